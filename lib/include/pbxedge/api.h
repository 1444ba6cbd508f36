/* api.h - symbol visibility for libpbxedge-core's public interface. */
#ifndef PBXEDGE_API_H
#define PBXEDGE_API_H

/* The library is built with hidden visibility; only declarations marked
 * PBX_API are exported, so the ABI is exactly what the headers promise. */
#if defined(PBX_BUILDING_CORE) && defined(__GNUC__)
#define PBX_API __attribute__((visibility("default")))
#else
#define PBX_API
#endif

#if defined(__GNUC__)
#define PBX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define PBX_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define PBX_PRINTF(fmt, args)
#define PBX_WARN_UNUSED
#endif

#endif
