"""A Lambda Runtime API client: GET next, POST a response of RESPONSE_BYTES (base64), repeat.

MODE=reuse       every call on one keep-alive connection                  -> all answered
MODE=split-keep  each POST on a new connection, kept open afterwards      -> the HTTP client waits forever
MODE=split-late  each POST on a new connection, closed 0.5 s after the 200 -> the emulator answers 500
"""
import base64, http.client, json, os, sys, time

api = os.environ["AWS_LAMBDA_RUNTIME_API"].split("://", 1)[-1]
authority, _, prefix = api.partition("/")
prefix = "/" + prefix if prefix else ""
host, port = authority.rsplit(":", 1)
n = int(os.environ.get("RESPONSE_BYTES", 4 << 20))
mode = os.environ.get("MODE", "reuse")
body = json.dumps({"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                   "multiValueHeaders": {}, "cookies": [], "isBase64Encoded": True,
                   "body": base64.b64encode(b"\0" * n).decode()}).encode()
kept = []
poll = http.client.HTTPConnection(host, int(port))
while True:
    poll.request("GET", f"{prefix}/2018-06-01/runtime/invocation/next")
    r = poll.getresponse(); r.read()
    if r.status != 200:
        continue
    request_id = r.getheader("lambda-runtime-aws-request-id")
    post = poll if mode == "reuse" else http.client.HTTPConnection(host, int(port))
    post.request("POST", f"{prefix}/2018-06-01/runtime/invocation/{request_id}/response", body)
    r = post.getresponse(); r.read()
    print("answered", request_id, r.status, file=sys.stderr, flush=True)
    if mode == "split-keep":
        kept.append(post)
    elif mode == "split-late":
        time.sleep(0.5)
        post.close()
