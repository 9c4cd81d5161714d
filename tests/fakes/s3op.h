/* Which S3 operation an HTTP request is, from its method, target and Host
 * (path-style or virtual-hosted). faultproxy counts and injects per op. */
#ifndef FAULTPROXY_S3OP_H
#define FAULTPROXY_S3OP_H

enum op {
    OP_UPLOAD_PART, /* UploadPartCopy too */
    OP_PUT_OBJECT,  /* CopyObject too */
    OP_CREATE_MULTIPART,
    OP_COMPLETE_MULTIPART,
    OP_ABORT_MULTIPART,
    OP_LIST_PARTS,
    OP_GET_OBJECT,
    OP_HEAD_OBJECT,
    OP_DELETE_OBJECT,
    OP_LIST_OBJECTS, /* V1 and V2 */
    OP_OTHER,        /* bucket ops, sub-resources (acl, tagging, ...), service */
    OP_COUNT
};

/* "UploadPart", "PutObject", ...: S3's names, also the names in rules. */
extern const char *const op_names[OP_COUNT];

/* The op named name; -1 for "*" (any); -2 unknown. */
int op_lookup(const char *name);

/* target is the request target ("/bucket/key?query"), host the Host header
 * ("" when absent). Never fails: what is not one of the above is OP_OTHER. */
enum op op_classify(const char *method, const char *target, const char *host);

#endif
