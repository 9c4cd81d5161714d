#!/usr/bin/env python3
"""Tiny S3 helper for bench/run.sh (Python standard library only).

SigV4 with UNSIGNED-PAYLOAD, path-style, keep-alive connections (one per
thread). Credentials come from the environment: S3_ENDPOINT (http://host:port),
S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION.

  s3.py mkbucket BUCKET
  s3.py put-random BUCKET PREFIX COUNT SIZE [THREADS]   random bytes, keys PREFIX%06d
  s3.py stat BUCKET [PREFIX]                            prints "<objects> <bytes>"
  s3.py keys BUCKET [PREFIX]                            prints "<key> <size>" per object
  s3.py presign METHOD BUCKET KEY [SECONDS]             prints a query-signed URL (SigV4,
                                                        UNSIGNED-PAYLOAD, signs host only)
"""
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET

EP = urllib.parse.urlsplit(os.environ["S3_ENDPOINT"])
AK = os.environ["S3_ACCESS_KEY"]
SK = os.environ["S3_SECRET_KEY"]
REGION = os.environ.get("S3_REGION") or "us-east-1"
HOST = EP.netloc
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method, path, query, headers):
    """Adds Authorization, x-amz-date and x-amz-content-sha256 to headers."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate = now.strftime("%Y%m%dT%H%M%SZ")
    day = amzdate[:8]
    headers["host"] = HOST
    headers["x-amz-date"] = amzdate
    headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    q = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
               for k, v in query.items())
    cq = "&".join(f"{k}={v}" for k, v in q)
    names = sorted(h.lower() for h in headers)
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    ch = "".join(f"{n}:{lower[n]}\n" for n in names)
    sh = ";".join(names)
    creq = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), cq, ch, sh,
                      "UNSIGNED-PAYLOAD"])
    scope = f"{day}/{REGION}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + SK).encode(), day), REGION), "s3"), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={AK}/{scope}, "
                                f"SignedHeaders={sh}, Signature={sig}")
    return cq


def presign(method, bucket, key, expires=3600):
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate = now.strftime("%Y%m%dT%H%M%SZ")
    day = amzdate[:8]
    scope = f"{day}/{REGION}/s3/aws4_request"
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{AK}/{scope}",
         "X-Amz-Date": amzdate, "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
    enc = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                 for k, v in q.items())
    cq = "&".join(f"{k}={v}" for k, v in enc)
    path = urllib.parse.quote(f"/{bucket}/{key}", safe="/-_.~")
    creq = "\n".join([method, path, cq, f"host:{HOST}\n", "host", "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + SK).encode(), day), REGION), "s3"), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return f"{EP.scheme}://{HOST}{path}?{cq}&X-Amz-Signature={sig}"


class Conn:
    def __init__(self):
        self.c = None

    def req(self, method, path, query=None, body=None, ok=(200,)):
        query = query or {}
        for attempt in range(5):
            headers = {}
            if body is not None:
                headers["content-length"] = str(len(body))
            cq = sign(method, path, query, headers)
            url = urllib.parse.quote(path, safe="/-_.~") + ("?" + cq if cq else "")
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(EP.hostname, EP.port, timeout=300)
                self.c.request(method, url, body=body, headers=headers)
                r = self.c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                self.c = None
                if attempt == 4:
                    raise
                continue
            if r.status in ok:
                return data
            if r.status >= 500 and attempt < 4:
                continue
            raise SystemExit(f"s3.py: {method} {path}: HTTP {r.status}: {data[:300]!r}")
        raise SystemExit(f"s3.py: {method} {path}: retries exhausted")


def listing(bucket, prefix=""):
    c = Conn()
    token = None
    while True:
        q = {"list-type": "2", "max-keys": "1000"}
        if prefix:
            q["prefix"] = prefix
        if token:
            q["continuation-token"] = token
        root = ET.fromstring(c.req("GET", f"/{bucket}", q))
        for e in root.iter(NS + "Contents"):
            yield e.find(NS + "Key").text, int(e.find(NS + "Size").text)
        if root.findtext(NS + "IsTruncated") != "true":
            return
        token = root.findtext(NS + "NextContinuationToken")


def put_random(bucket, prefix, count, size, threads):
    lock = threading.Lock()
    nxt = [0]
    errors = []

    def work():
        c = Conn()
        try:
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= count:
                    return
                c.req("PUT", f"/{bucket}/{prefix}{i:06d}", body=os.urandom(size))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(min(threads, count))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit(f"s3.py: put-random: {errors[0]}")


def main(a):
    if len(a) >= 2 and a[0] == "mkbucket":
        Conn().req("PUT", f"/{a[1]}")
    elif len(a) in (5, 6) and a[0] == "put-random":
        put_random(a[1], a[2], int(a[3]), int(a[4]), int(a[5]) if len(a) == 6 else 16)
    elif len(a) in (2, 3) and a[0] == "stat":
        n = b = 0
        for _, s in listing(a[1], a[2] if len(a) == 3 else ""):
            n += 1
            b += s
        print(n, b)
    elif len(a) in (2, 3) and a[0] == "keys":
        for k, s in listing(a[1], a[2] if len(a) == 3 else ""):
            print(k, s)
    elif len(a) in (4, 5) and a[0] == "presign":
        print(presign(a[1], a[2], a[3], int(a[4]) if len(a) == 5 else 3600))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
