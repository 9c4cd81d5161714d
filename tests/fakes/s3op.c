/* Classification of requests into S3 operations: see s3op.h. */
#include "s3op.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const op_names[OP_COUNT] = {
    "UploadPart",
    "PutObject",
    "CreateMultipartUpload",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "ListObjects",
    "Other",
};

int op_lookup(const char *name)
{
    if (strcmp(name, "*") == 0)
        return -1;
    for (int i = 0; i < OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0)
            return i;
    return -2;
}

static bool query_has(const char *q, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t) (amp - p) : strlen(p);
        if (len >= nl && strncmp(p, name, nl) == 0 && (len == nl || p[nl] == '='))
            return true;
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

/* Sub-resources that make a request something else than the plain object or
 * bucket operation. */
static const char *const subresources[] = {
    "acl",
    "tagging",
    "uploads",
    "location",
    "versioning",
    "policy",
    "policyStatus",
    "lifecycle",
    "cors",
    "website",
    "logging",
    "notification",
    "replication",
    "encryption",
    "object-lock",
    "requestPayment",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "ownershipControls",
    "publicAccessBlock",
    "versions",
    "retention",
    "legal-hold",
    "attributes",
    "torrent",
    "restore",
    "select",
    "delete",
    NULL,
};

enum op op_classify(const char *method, const char *target, const char *host)
{
    char path[8192];
    const char *qm = strchr(target, '?');
    size_t plen = qm ? (size_t) (qm - target) : strlen(target);
    snprintf(path, sizeof(path), "%.*s", (int) plen, target);
    const char *q = qm ? qm + 1 : NULL;

    /* path style when the Host is an address or plain localhost; else the
     * bucket is in the Host (virtual-hosted) */
    char name[256];
    snprintf(name, sizeof(name), "%s", host);
    char *colon = strrchr(name, ':');
    if (colon && !strchr(name, ']'))
        *colon = '\0';
    struct in_addr a4;
    bool path_style = !*name || strcasecmp(name, "localhost") == 0 ||
                      inet_pton(AF_INET, name, &a4) == 1 || name[0] == '[';
    int level; /* 0 service, 1 bucket, 2 object */
    if (path_style) {
        const char *slash = strchr(path + 1, '/');
        level = !path[1] ? 0 : slash && slash[1] ? 2 : 1;
    } else {
        level = path[1] ? 2 : 1;
    }
    bool sub = false;
    for (int i = 0; subresources[i] && !sub; i++)
        sub = query_has(q, subresources[i]);
    bool upload_id = query_has(q, "uploadId");

    if (strcmp(method, "PUT") == 0) {
        if (upload_id && query_has(q, "partNumber"))
            return OP_UPLOAD_PART;
        return level == 2 && !sub ? OP_PUT_OBJECT : OP_OTHER;
    }
    if (strcmp(method, "POST") == 0) {
        if (level == 2 && query_has(q, "uploads"))
            return OP_CREATE_MULTIPART;
        return level == 2 && upload_id ? OP_COMPLETE_MULTIPART : OP_OTHER;
    }
    if (strcmp(method, "DELETE") == 0) {
        if (upload_id)
            return OP_ABORT_MULTIPART;
        return level == 2 && !sub ? OP_DELETE_OBJECT : OP_OTHER;
    }
    if (strcmp(method, "GET") == 0) {
        if (level == 2 && upload_id)
            return OP_LIST_PARTS;
        if (sub || level == 0)
            return OP_OTHER;
        return level == 2 ? OP_GET_OBJECT : OP_LIST_OBJECTS;
    }
    if (strcmp(method, "HEAD") == 0)
        return level == 2 && !sub ? OP_HEAD_OBJECT : OP_OTHER;
    return OP_OTHER;
}
