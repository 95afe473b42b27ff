#!/bin/bash
# Entrypoint of the offline MariaDB image built by images/mariadb/build.
# It follows the interface of the official mariadb image, written anew for
# Debian's packages: MARIADB_ROOT_PASSWORD (or _HASH), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD,
# MARIADB_RANDOM_ROOT_PASSWORD, MARIADB_ROOT_HOST, MARIADB_DATABASE, MARIADB_USER,
# MARIADB_PASSWORD (or _HASH), MARIADB_INITDB_SKIP_TZINFO, their MYSQL_* aliases
# and *_FILE forms; /docker-entrypoint-initdb.d; the data folder and socket the
# server's own options name (so `--datadir=...` as an argument moves it).
set -Eeuo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S+00:00')" "$*"; }
die() { log "error: $*" >&2; exit 1; }

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi

case "$1" in mariadbd | mysqld) ;; *) exec "$@" ;; esac
for arg; do
	case "$arg" in --help | --version | -V | -'?' | --print-defaults) exec "$@" ;; esac
done

# MARIADB_X, else MYSQL_X, else X_FILE's contents, else the default.
setting() {
	local name="$1" default="${2:-}" value=""
	local file_var="MARIADB_${name}_FILE" alias_file="MYSQL_${name}_FILE"
	local var="MARIADB_$name" alias="MYSQL_$name"
	if [ -n "${!var:-}" ]; then value="${!var}"
	elif [ -n "${!alias:-}" ]; then value="${!alias}"
	elif [ -n "${!file_var:-}" ]; then value="$(< "${!file_var}")"
	elif [ -n "${!alias_file:-}" ]; then value="$(< "${!alias_file}")"
	else value="$default"
	fi
	printf '%s' "$value"
}

# What the server's own configuration and arguments say (in the table of
# variables that ends its --verbose --help, after the line of dashes).
option() {
	"$@" --verbose --help 2>/dev/null |
		awk -v want="$OPTION" '/^-+ -+$/ { table = 1; next } table && $1 == want { print $2; exit }'
}
OPTION=datadir DATADIR="$(option "$@")"
OPTION=socket SOCKET="$(option "$@")"
[ -n "$DATADIR" ] || die "cannot read the server's datadir: check its options ('$* --verbose --help')"
DATADIR="${DATADIR%/}"

if [ "$(id -u)" = '0' ]; then
	mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
	find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
	chown mysql:mysql "$(dirname "$SOCKET")"
	exec gosu mysql "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -d "$DATADIR/mysql" ]; then
	root_password="$(setting ROOT_PASSWORD)"
	root_hash="$(setting ROOT_PASSWORD_HASH)"
	allow_empty="$(setting ALLOW_EMPTY_ROOT_PASSWORD)"
	[ -n "$allow_empty" ] || allow_empty="${MYSQL_ALLOW_EMPTY_PASSWORD:-}"
	random="$(setting RANDOM_ROOT_PASSWORD)"
	if [ -z "$root_password$root_hash$allow_empty$random" ]; then
		die 'database is uninitialized and the root password is not specified: set one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ -n "$root_hash" ] && [ -n "$root_password$allow_empty$random" ]; then
		die 'MARIADB_ROOT_PASSWORD_HASH cannot be given with another root password setting'
	fi
	if [ -n "$random" ]; then
		root_password="$(pwgen --numerals --capitalize --symbols --remove-chars="'\\" -1 32)"
		log "GENERATED ROOT PASSWORD: $root_password"
	fi
	root_host="$(setting ROOT_HOST %)"
	database="$(setting DATABASE)"
	user="$(setting USER)"
	password="$(setting PASSWORD)"
	password_hash="$(setting PASSWORD_HASH)"

	# The server's own arguments go to the installer too, but those with spaces.
	install_args=()
	for arg in "${@:2}"; do
		[[ "$arg" = *[[:space:]]* ]] || install_args+=("$arg")
	done
	log "initializing the database in $DATADIR"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --cross-bootstrap --old-mode=UTF8_IS_UTF8MB3 --default-time-zone=SYSTEM \
		--enforce-storage-engine= --skip-log-bin --expire-logs-days=0 \
		--loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 \
		"${install_args[@]}" >/dev/null

	log 'starting a temporary server'
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
		--expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 &
	server=$!
	client=(mariadb --protocol=socket --socket="$SOCKET" -uroot --skip-ssl)
	for _ in $(seq 300); do
		"${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
		kill -0 "$server" 2>/dev/null || die 'the temporary server exited; see its log above'
		sleep 0.1
	done
	"${client[@]}" -e 'SELECT 1' >/dev/null || die 'the temporary server did not start within 30s'

	if [ -z "$(setting INITDB_SKIP_TZINFO)" ]; then
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null |
			"${client[@]}" mysql
	fi

	quote() { printf "'%s'" "${1//\'/\'\'}"; }
	if [ -n "$root_hash" ]; then
		root_auth="IDENTIFIED BY PASSWORD $(quote "$root_hash")"
	else
		root_auth="IDENTIFIED BY $(quote "$root_password")"
	fi
	health="$(pwgen --numerals --capitalize -1 32)"
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
		echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');"
		if [ -z "$root_hash" ]; then
			echo "SET PASSWORD FOR root@localhost = PASSWORD($(quote "$root_password"));"
		fi
		if [ "$root_host" != localhost ]; then
			echo "CREATE USER root@$(quote "$root_host") $root_auth;"
			echo "GRANT ALL ON *.* TO root@$(quote "$root_host") WITH GRANT OPTION;"
			echo "GRANT PROXY ON ''@'%' TO root@$(quote "$root_host") WITH GRANT OPTION;"
		fi
		for host in 127.0.0.1 ::1 localhost; do
			echo "CREATE USER healthcheck@'$host' IDENTIFIED BY $(quote "$health");"
		done
		if [ -n "$database" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`${database//\`/\`\`}\`;"
		fi
		if [ -n "$user" ]; then
			if [ -n "$password_hash" ]; then
				echo "CREATE USER $(quote "$user")@'%' IDENTIFIED BY PASSWORD $(quote "$password_hash");"
			else
				echo "CREATE USER $(quote "$user")@'%' IDENTIFIED BY $(quote "$password");"
			fi
			if [ -n "$database" ]; then
				echo "GRANT ALL ON \`${database//_/\\_}\`.* TO $(quote "$user")@'%';"
			fi
		fi
	} | "${client[@]}"
	printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' \
		"$SOCKET" "$health" >"$DATADIR/.my-healthcheck.cnf"
	chmod 0600 "$DATADIR/.my-healthcheck.cnf"

	export MYSQL_PWD="$root_password"
	run_client=("${client[@]}")
	[ -z "$database" ] || run_client+=("--database=$database")
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
			*.sql) log "running $f"; "${run_client[@]}" <"$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | "${run_client[@]}" ;;
			*.sql.xz) log "running $f"; xzcat "$f" | "${run_client[@]}" ;;
			*.sql.zst) log "running $f"; zstd -dc "$f" | "${run_client[@]}" ;;
			*) log "ignoring $f" ;;
		esac
	done
	if [ -n "$root_hash" ]; then
		echo "SET PASSWORD FOR root@localhost = $(quote "$root_hash");" | "${client[@]}"
	fi
	unset MYSQL_PWD

	kill "$server"
	wait "$server" || true
	log 'MariaDB init process done. Ready for start up.'
fi

unset MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD MARIADB_PASSWORD MYSQL_PASSWORD \
	MARIADB_ROOT_PASSWORD_HASH MARIADB_PASSWORD_HASH MARIADB_ROOT_HOST MYSQL_ROOT_HOST
exec "$@"
