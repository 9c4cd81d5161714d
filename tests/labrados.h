/* The lab cluster's pool for the tests of the rados state: made when it is
 * missing (in production that is the operator's job; rgw2cloud only names
 * the command). */
#ifndef RGW2CLOUD_LABRADOS_H
#define RGW2CLOUD_LABRADOS_H

#include <errno.h>
#include <rados/librados.h>
#include <stdio.h>
#include <string.h>

/* The pool both test_state_rados and test_sync's rados scenario use. */
#define LABRADOS_POOL "rgw2cloud-test"

/* 0, or a negative errno (printed as a TAP comment). */
static inline int labrados_pool(const char *ceph_conf, const char *pool)
{
    rados_t c = NULL;
    int r = rados_create2(&c, "ceph", "client.admin", 0);
    if (r == 0)
        r = rados_conf_read_file(c, ceph_conf);
    if (r == 0)
        r = rados_connect(c);
    if (r == 0 && (r = rados_pool_create(c, pool)) == -EEXIST)
        r = 0;
    if (r < 0)
        printf("# cannot make pool %s with %s: %s\n", pool, ceph_conf, strerror(-r));
    if (c)
        rados_shutdown(c);
    return r;
}

#endif
