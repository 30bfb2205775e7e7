#!/bin/bash
# One-shot (service mongo-keyfile): creates the key the two MongoDB members use to authenticate to
# each other, once, in the shared volume. Run again, it keeps the existing key, so members that
# already joined the replica set keep talking to each other.
set -euo pipefail
key=/keyfile/rs.key
if [[ ! -s $key ]]; then
  # 756 random bytes are 1008 base64 characters: MongoDB accepts 6 to 1024 of them.
  head -c 756 /dev/urandom | base64 -w 0 > "$key.new"
  mv "$key.new" "$key"
  echo "mongo-keyfile: created $key"
else
  echo "mongo-keyfile: $key exists, kept"
fi
# mongod refuses a key file that others can read; 999 is the mongodb user of the official image.
chown 999:999 "$key"
chmod 400 "$key"
