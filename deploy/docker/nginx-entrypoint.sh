#!/bin/sh
# deploy/docker/nginx-entrypoint.sh — the nginx image's entrypoint: fills
# /etc/tileq/nginx.conf.in (deploy/nginx.conf.in) from the environment and runs nginx in the
# foreground, logging to the container's stdout/stderr.
#   TQ_NGINX_UPSTREAMS  coordinators, space-separated host:port (default coordinator-1:8080)
#   TQ_NGINX_LISTEN     listen address (default 80)
#   TQ_CACHE_DIR        the shared cache volume (default /var/cache/tileq)
#   TQ_NGINX_CACHE_CONTROL, TQ_NGINX_CORS_ORIGIN   headers on cache hits (match tileq.conf)
#   TQ_NGINX_METRICS_ALLOW  clients that may GET /metrics and /health (addresses or ranges,
#                           space- or comma-separated; default "127.0.0.0/8 ::1"; match the
#                           coordinators' http.metrics_allow / TQ_METRICS_ALLOW)
set -eu
STATE=/var/lib/tileq-nginx
mkdir -p "$STATE"
ups=""
for u in ${TQ_NGINX_UPSTREAMS:-coordinator-1:8080}; do
    ups="$ups        server $u max_fails=0;\\n"
done
allow=""
for a in $(printf '%s' "${TQ_NGINX_METRICS_ALLOW-127.0.0.0/8 ::1}" | tr ',' ' '); do
    case $a in
    *[!0-9A-Fa-f.:/]*) echo "TQ_NGINX_METRICS_ALLOW: bad address '$a'" >&2; exit 1 ;;
    esac
    allow="$allow            allow $a;\\n"
done
sed -e "s|@USER@|user nobody nogroup;|g" -e "s|@STATE_DIR@|$STATE|g" \
    -e "s|@LISTEN@|${TQ_NGINX_LISTEN:-80}|g" \
    -e "s|@CACHE_DIR@|${TQ_CACHE_DIR:-/var/cache/tileq}|g" -e "s|@UPSTREAMS@|$ups|g" \
    -e "s|@CACHE_CONTROL@|${TQ_NGINX_CACHE_CONTROL:-public, max-age=3600}|g" \
    -e "s|@CORS_ORIGIN@|${TQ_NGINX_CORS_ORIGIN:-*}|g" -e "s|@METRICS_ALLOW@|$allow|g" \
    /etc/tileq/nginx.conf.in >/etc/tileq/nginx.conf
ln -sf /dev/stdout "$STATE/access.log"
ln -sf /dev/stderr "$STATE/error.log"
exec nginx -p "$STATE" -e /dev/stderr -c /etc/tileq/nginx.conf -g 'daemon off;'
