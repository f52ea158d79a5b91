"""Send one WebDAV request with Python's standard library and print, as
JSON, the status the library reports.

Usage: python3 request.py urllib|http.client METHOD URL [DESTINATION]

"urllib" goes through urllib.request, which sends "User-Agent:
Python-urllib/3.x" (on davd's default deny-list). "http.client" uses
http.client directly, which sends no User-Agent at all. Both read the
response with http.client, which skips 100 Continue but takes any other 1xx
for the final response.
"""
import http.client
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def main():
    lib, method, url = sys.argv[1:4]
    headers = {"Destination": sys.argv[4]} if len(sys.argv) > 4 else {}
    if lib == "urllib":
        req = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read()
    else:
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request(method, u.path, headers=headers)
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
        conn.close()
    print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")}))


main()
