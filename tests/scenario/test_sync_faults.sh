#!/usr/bin/env bash
# test_sync_faults.sh - scenario 7: the sync engine under faults. sfemu injects 503s, row locks,
# dropped connections, latency, expired sessions and lost answers; a two-way workload converges
# with no duplicate and nothing dead-lettered, then goes quiet. A validation rule's refusal waits
# in the dead-letter queue until the rule is relaxed and the entry replayed; a lifecycle
# transition the repository refuses is dead-lettered with its reason.
. "$(dirname "$0")/lib.sh"

start_sfemu sf
# SpecialTerms is written by the repository (so a repository value can meet the validation rule);
# the lifecycle status is Salesforce's (so a Salesforce edit can ask for a transition)
start_sync clm "sf=$URL_sf" special_terms_owner=clm contract_status_owner=salesforce
SF_URL=$URL_sf CLM_URL=$URL_clm CLM_TOKEN=$TOKEN_clm CLM_CONFIG=$WORK/clm.yaml CLMSYNC=$BUILD/clmsync \
	ADMIN_URL=$ADMIN_clm CLM_DATA=$DATA_clm \
	CLM_LOG=$WORK/clm.log SEED=${FAULTS_SEED:-7} \
	python3 "$(dirname "$0")/sync_faults.py" || FAILS=$((FAILS + 1))
finish
