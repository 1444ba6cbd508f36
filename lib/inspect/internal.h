/* internal.h - the inspector rows, shared between lib/inspect files. */
#ifndef PBX_INSPECT_INTERNAL_H
#define PBX_INSPECT_INTERNAL_H

#include <pbxedge/inspect.h>

extern const struct pbx_inspector pbx_inspector_http;
extern const struct pbx_inspector pbx_inspector_sip;
extern const struct pbx_inspector pbx_inspector_ldap;
extern const struct pbx_inspector pbx_inspector_h323;

#endif
