# Sourced by scripts/run.sh (make run): this installation's keys, random on first run, kept in .kiln/secrets.env
# (gitignored, mode 600) and reused, so tokens and the audit chain stay valid across restarts and no key published
# in the repository signs anything. A key already in the environment wins over the file.
SECRETS=.kiln/secrets.env
mkdir -p .kiln
if [[ ! -s "$SECRETS" ]]; then
  (umask 077 && .venv/bin/python -c 'import secrets
for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "KILN_AUDIT_KEY"):
    print(f"{name}={secrets.token_urlsafe(50)}")' > "$SECRETS.new" && mv "$SECRETS.new" "$SECRETS")
  echo "Generated this installation's keys in $SECRETS (keep it with the database; never commit it)."
fi
chmod 600 "$SECRETS"
while IFS='=' read -r name value; do
  if [[ -n "$name" && -z "${!name:-}" ]]; then export "$name=$value"; fi
done < "$SECRETS"
