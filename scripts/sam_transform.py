#!/usr/bin/env python3
"""Prints template.yaml as CloudFormation receives it: SAM's transform applied, as `sam deploy` does.

Why: cfn-lint checks a SAM template's dependency cycles (E3004) without the edges SAM adds: an
HttpApi's body names every function routed to it, so a function naming something that names the
API (the CDN distribution) is a cycle CloudFormation refuses, yet `cfn-lint template.yaml` passes.
Linting this output catches it. Offline: code locations are set as `sam package` would leave them,
and no managed policy is looked up (the template names none).

Usage: scripts/sam_transform.py template.yaml > transformed.json   (needs AWS_DEFAULT_REGION)
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    def load(self):
        return {}


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://packaged/code.zip"
    json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
