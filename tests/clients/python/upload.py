"""Drives a real Python HTTP client against the running service (shared/tests/real_clients.rs).

    upload.py requests|httpx BASE_URL API_KEY FILE NAME   upload FILE under NAME, print the answer
    upload.py requests-flag BASE_URL ASSET_KEY             GET with params={"handleError": True}

Prints the HTTP status on the first line, then the body (upload) or the Content-Type (flag).
"""

import sys


def main() -> None:
    client, base = sys.argv[1], sys.argv[2]
    if client == "requests-flag":
        import requests

        # Issue 11: requests writes Python's True as "True".
        response = requests.get(
            f"{base}/api/v1/partner/asset/{sys.argv[3]}", params={"handleError": True}
        )
        print(response.status_code)
        print(response.headers.get("content-type"))
        print(response.url)
        return
    key, path, name = sys.argv[3], sys.argv[4], sys.argv[5]
    url = f"{base}/api/v1/partner/asset/upload/public"
    with open(path, "rb") as file:
        data = file.read()
    # The documented way each library uploads a file under a chosen name.
    if client == "requests":
        import requests

        response = requests.post(url, headers={"X-Api-Key": key}, files={"file": (name, data)})
    elif client == "httpx":
        import httpx

        response = httpx.post(url, headers={"X-Api-Key": key}, files={"file": (name, data)})
    else:
        raise SystemExit(f"unknown client {client}")
    print(response.status_code)
    print(response.text)


if __name__ == "__main__":
    main()
