PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Callback URLs and the links in emails must point where `make run` serves.
SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test install lint browser services

## run: install, migrate, create the demo login, start web + worker + SMTP sink
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap_demo --url $(SITE_URL)/
	SITE_URL=$(SITE_URL) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile.dev -p $(PORT)

## test: install what the tests need (incl. Debian's chromium and dovecot) and run the whole suite
test: install browser services
	$(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Dovecot, the IMAP server the bounce-mailbox tests start on loopback (no system service).
services:
	@command -v dovecot >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
