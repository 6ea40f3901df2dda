"""moto's server, with one correction to its S3 model, for the local stack and the tests.

moto 5.2.x serializes responses from the botocore model plus its own "moto-extras" (the S3 root
element of each answer is the operation's `resultWrapper` there). Its S3 extras name no wrapper for
`ListParts`, so moto answers `<ListPartsResponse>` where S3 answers `<ListPartsResult>`
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html), and the AWS SDK for Rust,
which checks the root element, refuses the answer. The same defect in CompleteMultipartUpload was
getmoto/moto#10055. This adds the missing wrapper at load time, and only while moto's own extras
lack one, so it goes away by itself once moto ships the fix.

Usage: python scripts/moto_server.py [moto_server's arguments]
"""

import sys

from moto.core import loaders
from moto.server import main

MISSING_RESULT_WRAPPERS = {"ListParts": "ListPartsResult"}


class _Loader(loaders.Loader):
    def _find_extras(self, service_name, type_name, api_version):
        extras = list(super()._find_extras(service_name, type_name, api_version))
        if service_name == "s3" and type_name == "service-2":
            known = {
                op
                for extra in extras
                for op, spec in extra.get("merge", {}).get("operations", {}).items()
                if "resultWrapper" in spec.get("output", {})
            }
            missing = {
                op: {"output": {"resultWrapper": wrapper}}
                for op, wrapper in MISSING_RESULT_WRAPPERS.items()
                if op not in known
            }
            if missing:
                extras.append({"merge": {"operations": missing}})
        yield from extras


loaders.Loader = _Loader

if __name__ == "__main__":
    sys.exit(main())
