"""Retouch: a queue-driven photo retouching service.

Layers, after the AWS Lambda Handler Cookbook:

* ``retouch.models``   - messages, jobs and errors (pure data)
* ``retouch.ops``      - image operations (pure functions) and their registry
* ``retouch.imageio``  - decoding/encoding with safety limits
* ``retouch.adapters`` - S3, SQS and DynamoDB behind small interfaces
* ``retouch.logic``    - what each function does, written against the adapters
* ``retouch.local``    - the embedded stack (moto server + emulated triggers)
* ``retouch.cli``      - the ``retouch`` command
"""

__version__ = "0.1.0"
