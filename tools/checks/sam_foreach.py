"""Print the SAM CLI's own ``Fn::ForEach`` expansion of a template, as JSON (run with the SAM CLI's
interpreter, ``.venv-tools/bin/python``). ``tests/unit/test_language_extensions.py`` compares it
with the local cloud's (``localcloud/language_extensions.py``).

Only the parsing and ``ForEach`` steps of the SAM CLI's language-extensions pipeline run: its
later steps resolve other intrinsics, which the local cloud does elsewhere.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(path: str) -> None:
    from samcli.lib.cfn_language_extensions.api import create_default_intrinsic_resolver
    from samcli.lib.cfn_language_extensions.models import TemplateProcessingContext
    from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
    from samcli.lib.cfn_language_extensions.processors import (
        ForEachProcessor,
        TemplateParsingProcessor,
    )
    from samcli.yamlhelper import yaml_parse

    with open(path) as file:
        template: dict[str, Any] = yaml_parse(file.read())
    context = TemplateProcessingContext(fragment=template, parameter_values={})
    resolver = create_default_intrinsic_resolver(context)
    pipeline = ProcessingPipeline(
        [TemplateParsingProcessor(), ForEachProcessor(intrinsic_resolver=resolver)]
    )
    print(json.dumps(pipeline.process_template(context), default=str))


if __name__ == "__main__":
    main(sys.argv[1])
