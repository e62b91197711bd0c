"""Where things live in the bucket.

User-supplied names never become keys: a key is made of the owner's hash, the job id and the
positional image id only, so ``../``, unicode, ``+`` and spaces in file names are harmless.

* upload: ``<uploads prefix><owner hash>/<job id>/<image id>``
* output: ``<outputs prefix><owner hash>/<job id>/<image id>.<ext>`` (deterministic, so a
  redelivered message overwrites the same object)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

from retouch.models import valid_image_id, valid_job_id


def owner_prefix(owner: str) -> str:
    return "u" + hashlib.sha256(owner.encode()).hexdigest()[:20]


def job_prefix(owner: str, job_id: str) -> str:
    """A job's folder under the uploads or the outputs prefix (its originals, its outputs)."""
    return f"{owner_prefix(owner)}/{job_id}/"


def upload_key(uploads_prefix: str, owner: str, job_id: str, image_id: str) -> str:
    return f"{uploads_prefix}{job_prefix(owner, job_id)}{image_id}"


def output_key_for(upload: str, uploads_prefix: str, outputs_prefix: str, extension: str) -> str:
    """The output key that belongs to an upload key: the same owner, job and image under the
    outputs prefix, with the format's extension (the one place outputs are named)."""
    return outputs_prefix + upload[len(uploads_prefix) :] + "." + extension


@dataclass(frozen=True)
class UploadRef:
    job_id: str
    image_id: str


def decode_event_key(raw: str) -> str:
    """S3 event keys are URL-encoded (differently by AWS, moto and LocalStack); decode once."""
    return unquote_plus(raw)


def parse_upload_key(key: str, uploads_prefix: str) -> UploadRef | None:
    """The job and image an upload key belongs to, or ``None`` if it is not one of ours."""
    if not key.startswith(uploads_prefix):
        return None
    parts = key[len(uploads_prefix) :].split("/")
    if len(parts) != 3 or not valid_job_id(parts[1]) or not valid_image_id(parts[2]):
        return None
    return UploadRef(job_id=parts[1], image_id=parts[2])


# --- the name an output is downloaded under ---------------------------------------------------
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
MAX_DOWNLOAD_NAME_BYTES = 200
"""Well under every file system's 255 bytes, leaving room for a browser's " (1)" or ".part"."""


def download_name(input_name: str, extension: str) -> str:
    """The file name an output is announced and downloaded under: the input's name without its
    folders and extension, plus the output format's extension; safe on every operating system
    (no separators, ``..``, drive prefixes, reserved device names or characters, trailing dots
    or spaces) and at most :data:`MAX_DOWNLOAD_NAME_BYTES` bytes."""
    base = input_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    stem = _UNSAFE.sub("_", stem).strip(" .")
    if stem.split(".", 1)[0].upper() in _RESERVED_NAMES:
        stem = "_" + stem
    room = MAX_DOWNLOAD_NAME_BYTES - len(extension) - 1
    while len(stem.encode()) > room:
        stem = stem[:-1]
    return f"{stem.rstrip(' .') or 'image'}.{extension}"
