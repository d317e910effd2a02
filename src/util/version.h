/* version.h - the version clmsync reports (clmsync version, /metrics build info). */
#ifndef CS_VERSION_H
#define CS_VERSION_H

#define CLMSYNC_VERSION "0.1.0"

#endif
