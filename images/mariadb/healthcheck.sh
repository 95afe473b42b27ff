#!/bin/bash
# Health check of the offline MariaDB image (images/mariadb/build), with the
# interface of the official image's healthcheck.sh for its two common tests:
#   healthcheck.sh [--datadir=DIR] --connect --innodb_initialized
# It logs in as the healthcheck user the entrypoint made (DIR/.my-healthcheck.cnf).
set -eu

datadir=/var/lib/mysql
tests=()
for arg; do
	case "$arg" in
		--datadir=*) datadir="${arg#--datadir=}" ;;
		--connect | --innodb_initialized) tests+=("${arg#--}") ;;
		--su-mysql | --no-defaults) ;;
		*) echo "healthcheck.sh: unsupported option $arg" >&2; exit 2 ;;
	esac
done
[ ${#tests[@]} -gt 0 ] || tests=(connect)
client=(mariadb --skip-ssl)
[ -e "$datadir/.my-healthcheck.cnf" ] && client=(mariadb "--defaults-extra-file=$datadir/.my-healthcheck.cnf" --skip-ssl)

for test in "${tests[@]}"; do
	case "$test" in
		connect)
			# Over TCP: the entrypoint's temporary server listens on no port.
			out="$("${client[@]}" --protocol=tcp -h localhost -e 'SELECT 1' 2>&1)" ||
				case "$out" in *"Access denied"*) ;; *) echo "$out" >&2; exit 1 ;; esac ;;
		innodb_initialized)
			status="$("${client[@]}" -N -B -e "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT')")"
			[ "$status" = 1 ] || exit 1 ;;
	esac
done
