#!/bin/bash
# Entrypoint of the tinode service: fills the ${NAME} placeholders of our tinode.conf (mounted
# read-only at /etc/tinode/tinode.conf) from the environment, then hands over to the official image's
# own entrypoint, which waits for MongoDB, runs tinode-db (creating the database on first start) and
# starts Tinode with the rendered file (EXT_CONFIG).
#
# Keys and passwords therefore come from .env instead of being committed. A placeholder without a
# value, or a value with characters that would need escaping inside a JSON string, stops the start
# here with a message, instead of starting Tinode with a well-known key.
set -euo pipefail

template=/etc/tinode/tinode.conf
rendered=/opt/tinode/sidecar-tinode.conf
conf="$(<"$template")"

# Placeholders that may stay empty: an SMTP relay that takes mail without authentication.
optional=" SMTP_LOGIN SMTP_PASSWORD "

mapfile -t names < <(grep -oE '\$\{[A-Z][A-Z0-9_]*\}' "$template" | sort -u | tr -d '${}')
for name in "${names[@]}"; do
  value="${!name:-}"
  if [[ -z $value && $optional != *" $name "* ]]; then
    echo "tinode-start: $name is not set (see .env.example)" >&2
    exit 78
  fi
  # Base64 keys, hex passwords, host names, URLs and addresses pass; quotes, backslashes and spaces
  # do not.
  if [[ -n $value && ! $value =~ ^[A-Za-z0-9+/=._:@-]+$ ]]; then
    echo "tinode-start: $name may only hold letters, digits and + / = . _ : @ -" >&2
    exit 78
  fi
  # Quoted pattern and replacement: matched literally, and '&' in a value stays '&' (bash 5.2).
  conf="${conf//"\${$name}"/"$value"}"
done

umask 077
printf '%s\n' "$conf" > "$rendered"
export EXT_CONFIG="$rendered"

# The image's entrypoint appends Tinode's log to /var/log/tinode.log; send it to the container's
# standard error instead, so that `docker compose logs tinode` shows it.
ln -sf /dev/stderr /var/log/tinode.log

cd /opt/tinode
exec ./entrypoint.sh
