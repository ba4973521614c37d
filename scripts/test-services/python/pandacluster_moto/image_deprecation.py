"""image-deprecation: DescribeImages' DeprecationTime, which moto 5.1.1 never shows.

AWS (EC2 API reference, DescribeImages and "Deprecate an AMI" in the EC2 user guide):

- An image's owner sets a deprecation time (EnableImageDeprecation); from then on DescribeImages
  returns `deprecationTime` (ISO 8601, UTC, whole minutes) for that image.
- Once the time has passed, the image is *deprecated*: a listing (DescribeImages without ImageIds)
  leaves it out unless IncludeDeprecated=true, or the caller owns it; asked for by ImageIds it is
  still returned. It can still be launched.

moto has neither the attribute nor the rule. Flatcar (owner 075585003325) sets the deprecation of
its own images, which a test account cannot do (EnableImageDeprecation is for the owner), so the
times are given when the server starts, as the image publisher's state:

    PANDACLUSTER_MOTO_IMAGE_DEPRECATIONS='{"ami-…": "2026-06-01T00:00:00Z", …}'

Nothing changes without the variable except that the rule above applies to images that have a time.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from typing import Any, Dict

VARIABLE = "PANDACLUSTER_MOTO_IMAGE_DEPRECATIONS"


def _times() -> Dict[str, str]:
    raw = os.environ.get(VARIABLE, "").strip()
    if not raw:
        return {}
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError(f"{VARIABLE} must be a JSON object of image id -> ISO time")
    times: Dict[str, str] = {}
    for image_id, when in parsed.items():
        moment = datetime.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        # AWS keeps whole minutes (it rounds the requested time up to the next minute).
        if moment.second or moment.microsecond:
            moment = moment.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        times[image_id] = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return times


def apply() -> None:
    from moto.ec2.models.amis import Ami, AmiBackend
    from moto.ec2.responses import amis as responses

    times = _times()
    template = responses.DESCRIBE_IMAGES_RESPONSE
    anchor = "<creationDate>{{ image.creation_date }}</creationDate>"
    if anchor not in template:
        raise RuntimeError("DescribeImages template changed shape")
    responses.DESCRIBE_IMAGES_RESPONSE = template.replace(
        anchor,
        anchor + "{% if image.deprecation_time %}<deprecationTime>{{ image.deprecation_time }}</deprecationTime>{% endif %}",
    )

    def deprecation_time(self: Any) -> Any:
        return times.get(self.id)

    Ami.deprecation_time = property(deprecation_time)

    original = AmiBackend.describe_images

    def describe_images(self: Any, ami_ids: Any = None, filters: Any = None, exec_users: Any = None,
                        owners: Any = None) -> Any:
        images = original(self, ami_ids=ami_ids, filters=filters, exec_users=exec_users, owners=owners)
        if ami_ids or _include_deprecated():
            return images
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return [
            image for image in images
            if not (image.deprecation_time and image.deprecation_time <= now
                    and image.owner_id != self.account_id)
        ]

    AmiBackend.describe_images = describe_images

    original_response = responses.AmisResponse.describe_images

    def describe_images_response(self: Any) -> str:
        _request.include_deprecated = str(self._get_param("IncludeDeprecated", "false")).lower() == "true"
        try:
            return original_response(self)
        finally:
            _request.include_deprecated = False

    responses.AmisResponse.describe_images = describe_images_response


# The response handler knows IncludeDeprecated; the backend method it calls does not take it.
_request = threading.local()


def _include_deprecated() -> bool:
    return getattr(_request, "include_deprecated", False)
