"""security_secrets_config.py WORK SF_URL CLIENT_ID DEAD_PORT: the configuration of
test_security_secrets.sh: the standard mappings, the org logging in with a refresh token and a
client secret from files, API tokens from a file and the environment, an alert webhook whose
signing key comes from a file, and an HTTPS admin listener."""
import sys

import sync_lib

work, sf_url, client_id, dead_port = sys.argv[1:5]
admin = """  enabled: true
  tls_cert_file: %(w)s/tls.crt
  tls_key_file: %(w)s/tls.key
""" % {"w": work}
extra = """api_tokens:
  - {name: ops, role: admin, token_file: %(w)s/TA.secret}
  - {name: reader, role: read, token_env: CLMSYNC_READ_TOKEN}
alerts:
  webhook_url: http://127.0.0.1:%(p)s/hook
  secret_file: %(w)s/HK.secret
  interval_s: 1
  dlq_max: 0
""" % {"w": work, "p": dead_port}
y = sync_lib.config_yaml("%s/clm-data/clmsync.db" % work, [("main", sf_url)], sync_lib.standard_mappings("main"),
                         extra=extra, admin=admin)
old = """      type: client_credentials
      client_id: %s
      client_secret_env: CLMSYNC_TEST_SECRET
""" % sync_lib.CLIENT_ID
assert old in y
y = y.replace(old, """      type: refresh_token
      client_id: %(c)s
      client_secret_file: %(w)s/CS.secret
      refresh_token_file: %(w)s/RT.secret
""" % {"c": client_id, "w": work})
print(y)
