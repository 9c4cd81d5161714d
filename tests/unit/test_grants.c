/* ACL mapping: source grants -> x-amz-grant-* headers per type and mode. */
#include "testlib.h"

#include "config.h"
#include "http/xml.h"
#include "sync/grants.h"

#include <string.h>

static struct cfg_acl maps[] = {
    {CFG_ACL_ID, "alice", "79a59df9"},
    {CFG_ACL_EMAIL, "a@x", "b@y"},
    {CFG_ACL_URI, "http://acs.amazonaws.com/groups/global/AllUsers",
     "http://acs.amazonaws.com/groups/global/AllUsers"},
    {CFG_ACL_ID, "bob", "cafe01"},
};
static struct cfg_acl_profile prof_acls = {NULL, maps, 4};

static struct xml_grant src_grants[] = {
    {XML_GRANTEE_ID, "owner1", NULL, "FULL_CONTROL"},  /* the owner's own: not counted */
    {XML_GRANTEE_ID, "alice", NULL, "READ"},
    {XML_GRANTEE_ID, "bob", NULL, "READ"},
    {XML_GRANTEE_EMAIL, "a@x", NULL, "WRITE_ACP"},
    {XML_GRANTEE_URI, "http://acs.amazonaws.com/groups/global/AllUsers", NULL, "READ"},
    {XML_GRANTEE_ID, "carol", NULL, "FULL_CONTROL"}, /* no mapping: dropped, counted */
    {XML_GRANTEE_EMAIL, "alice", NULL, "READ"},      /* an id mapping does not map an email */
};
static struct xml_acl acl = {"owner1", NULL, src_grants, 7};

static void test_grants__map_mode_maps_each_type(void)
{
    struct cfg_profile p = {.acls = &prof_acls, .acl_mode = CFG_ACL_MODE_MAP};
    CHECK(grants_need_acl(&p));
    struct grants g;
    CHECK_INT(grants_map(&g, &p, &acl), 0);
    CHECK_STR(g.value[GRANT_READ],
              "id=\"79a59df9\", id=\"cafe01\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"");
    CHECK_STR(g.value[GRANT_WRITE_ACP], "emailAddress=\"b@y\"");
    CHECK(g.value[GRANT_FULL_CONTROL] == NULL);
    CHECK(g.value[GRANT_WRITE] == NULL);
    CHECK(g.canned == NULL);
    CHECK_INT(g.mapped, 4);
    CHECK_INT(g.dropped, 2);
    grants_finish(&g);
}

static void test_grants__none_mode_sends_nothing(void)
{
    struct cfg_profile p = {.acls = &prof_acls, .acl_mode = CFG_ACL_MODE_NONE};
    CHECK(!grants_need_acl(&p));
    struct grants g;
    CHECK_INT(grants_map(&g, &p, &acl), 0);
    for (int i = 0; i < GRANT_NHEADERS; i++)
        CHECK(g.value[i] == NULL);
    CHECK(g.canned == NULL);
    CHECK_INT(g.mapped, 0);
    grants_finish(&g);
}

static void test_grants__bucket_owner_full_control_is_canned(void)
{
    struct cfg_profile p = {.acls = &prof_acls, .acl_mode = CFG_ACL_MODE_BUCKET_OWNER_FULL};
    CHECK(!grants_need_acl(&p));
    struct grants g;
    CHECK_INT(grants_map(&g, &p, NULL), 0);
    CHECK_STR(g.canned, "bucket-owner-full-control");
    for (int i = 0; i < GRANT_NHEADERS; i++)
        CHECK(g.value[i] == NULL);
    grants_finish(&g);
}

static void test_grants__no_mapping_needs_no_acl_and_drops_all(void)
{
    struct cfg_profile p = {.acls = NULL, .acl_mode = CFG_ACL_MODE_MAP};
    CHECK(!grants_need_acl(&p));
    struct grants g;
    CHECK_INT(grants_map(&g, &p, &acl), 0);
    for (int i = 0; i < GRANT_NHEADERS; i++)
        CHECK(g.value[i] == NULL);
    CHECK_INT(g.dropped, 6);
    grants_finish(&g);
    CHECK_STR(grant_header_names[GRANT_READ_ACP], "x-amz-grant-read-acp");
}

int main(void)
{
    RUN(test_grants__map_mode_maps_each_type);
    RUN(test_grants__none_mode_sends_nothing);
    RUN(test_grants__bucket_owner_full_control_is_canned);
    RUN(test_grants__no_mapping_needs_no_acl_and_drops_all);
    return t_done();
}
