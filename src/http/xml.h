/* S3 XML documents, read with libxml2's pull reader (xmlTextReader).
 *
 * Rules for every parser here: namespaces are ignored (match local names);
 * leading ASCII whitespace before "<?xml" is skipped (S3 sends keep-alive
 * whitespace before a late result or error); the root element is checked;
 * malformed or truncated documents return -EBADMSG with err_set() detail and
 * never crash; parse options are XML_PARSE_NONET without entity loading,
 * and a DOCTYPE is refused (-EBADMSG: S3 never sends one). Bodies over
 * XML_BODY_MAX give -EFBIG. Unknown elements are ignored. ETags are
 * returned without their quotes.
 * Output structs are caller-owned storage; the matching *_finish() frees what
 * a parser allocated and accepts zeroed or half-filled structs. On error the
 * output holds nothing to free (parsers clean up themselves). */
#ifndef RGW2CLOUD_XML_H
#define RGW2CLOUD_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest body a parser accepts; a reader MAY stop collecting past it. */
#define XML_BODY_MAX (64u << 20)

/* Local name of the root element into *out (malloc'd). -EBADMSG if none. */
int xml_root_name(char **out, const char *body, size_t len);

struct xml_error {
    char *code; /* "NoSuchKey" */
    char *message;
    char *request_id;
    char *region; /* AuthorizationHeaderMalformed / redirects carry it; may be NULL */
    char *endpoint;
};
/* Root must be <Error>, else -ENOMSG (not an error document). */
int xml_parse_error(struct xml_error *out, const char *body, size_t len);
void xml_error_finish(struct xml_error *e);

/* InitiateMultipartUploadResult/UploadId -> *upload_id (malloc'd). */
int xml_parse_initiate(char **upload_id, const char *body, size_t len);

struct xml_part {
    int number;
    char *etag; /* unquoted */
    uint64_t size;
};
struct xml_list_parts {
    struct xml_part *parts;
    size_t nparts;
    bool truncated;
    int next_marker; /* NextPartNumberMarker, 0 if absent */
};
int xml_parse_list_parts(struct xml_list_parts *out, const char *body, size_t len);
void xml_list_parts_finish(struct xml_list_parts *l);

struct xml_object {
    char *key; /* decoded when url_encoded */
    uint64_t size;
    char *etag; /* unquoted */
    char *last_modified;
    char *storage_class;
};
struct xml_list_objects {
    struct xml_object *objects;
    size_t nobjects;
    char **prefixes; /* CommonPrefixes/Prefix, decoded when url_encoded */
    size_t nprefixes;
    bool truncated;
    char *next_token; /* NextContinuationToken (v2) or NextMarker (v1); NULL if absent
                       * or empty */
    bool url_encoded; /* EncodingType was "url": keys were percent-decoded */
};
/* ListBucketResult, v1 or v2. When <EncodingType>url</EncodingType> is
 * present, Key/Prefix/NextMarker/StartAfter are percent-decoded. */
int xml_parse_list_objects(struct xml_list_objects *out, const char *body, size_t len);
void xml_list_objects_finish(struct xml_list_objects *l);

struct xml_upload {
    char *key;
    char *upload_id;
    char *initiated;
};
struct xml_list_uploads {
    struct xml_upload *uploads;
    size_t nuploads;
    bool truncated;
    char *next_key_marker;       /* NULL if absent or empty */
    char *next_upload_id_marker; /* NULL if absent or empty */
};
/* With <EncodingType>url</EncodingType>, Key and NextKeyMarker are decoded. */
int xml_parse_list_uploads(struct xml_list_uploads *out, const char *body, size_t len);
void xml_list_uploads_finish(struct xml_list_uploads *l);

enum xml_grantee_type { XML_GRANTEE_ID, XML_GRANTEE_EMAIL, XML_GRANTEE_URI };
struct xml_grant {
    enum xml_grantee_type type; /* from xsi:type: CanonicalUser, AmazonCustomerByEmail, Group */
    char *id;                   /* ID, EmailAddress or URI, per type */
    char *display_name;         /* may be NULL */
    char *permission;           /* FULL_CONTROL, READ, WRITE, READ_ACP, WRITE_ACP */
};
struct xml_acl {
    char *owner_id;
    char *owner_display_name;
    struct xml_grant *grants;
    size_t ngrants;
};
int xml_parse_acl(struct xml_acl *out, const char *body, size_t len);
void xml_acl_finish(struct xml_acl *a);

struct xml_tag {
    char *key;
    char *value;
};
struct xml_tagging {
    struct xml_tag *tags;
    size_t ntags;
};
int xml_parse_tagging(struct xml_tagging *out, const char *body, size_t len);
void xml_tagging_finish(struct xml_tagging *t);

struct xml_complete {
    char *location;
    char *bucket;
    char *key;
    char *etag; /* unquoted; RGW 16 may send it empty; NULL if absent */
};
/* CompleteMultipartUploadResult. A 200 whose root is <Error> gives -EIO with
 * the S3 code and message in err_get(); any other root is -EBADMSG. */
int xml_parse_complete(struct xml_complete *out, const char *body, size_t len);
void xml_complete_finish(struct xml_complete *c);

/* <CompleteMultipartUpload> body for parts (non-empty, numbers >= 1 and
 * strictly ascending, ETags non-NULL valid UTF-8 without control characters;
 * -EINVAL otherwise). ETags are given unquoted and sent quoted. Text is
 * XML-escaped. *out malloc'd and NUL-terminated, *out_len excludes the NUL. */
int xml_build_complete(char **out, size_t *out_len, const struct xml_part *parts, size_t nparts);

/* <CreateBucketConfiguration><LocationConstraint>region</...> body; -EINVAL
 * for a NULL, empty or unencodable region. *out as for xml_build_complete. */
int xml_build_create_bucket(char **out, size_t *out_len, const char *region);

#endif
