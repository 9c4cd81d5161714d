/* The listener's side of the sync: hooks answering the source (see peer.c). */
#ifndef RGW2CLOUD_PEER_H
#define RGW2CLOUD_PEER_H

#include <stdbool.h>

struct peer;
struct sync;

/* Start the listener on s->cfg->listen. 0 or a negative errno + err_set(). */
int peer_start(struct peer **out, struct sync *s);
void peer_stop(struct peer *p); /* accepts NULL */
void peer_set_healthy(struct peer *p, bool healthy);
/* True once after a period push arrived. */
bool peer_take_period_change(struct peer *p);

#endif
