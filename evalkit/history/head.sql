-- The run history's schema at alembic's head, as SQLite stores it: what a history file that
-- does not exist yet is made from (evalkit/history/lite.py). After a new migration, write it
-- again: python -c 'from evalkit.history.lite import write_head_schema; write_head_schema()'
CREATE TABLE evalkit_history_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT evalkit_history_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE runs (
	run_id VARCHAR(64) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	recorded_at DATETIME NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	exit_code INTEGER, 
	git_sha VARCHAR(64), 
	branch VARCHAR(200), 
	tag VARCHAR(200), 
	config_digest VARCHAR(64), 
	evalkit_version VARCHAR(32), 
	PRIMARY KEY (run_id)
);
CREATE INDEX ix_runs_started_at ON runs (started_at);
CREATE TABLE run_groups (
	run_id VARCHAR(64) NOT NULL, 
	suite VARCHAR(200) NOT NULL, 
	variant VARCHAR(200) NOT NULL, 
	provider VARCHAR(200), 
	models JSON, 
	model_versions JSON, 
	prompt_hash VARCHAR(64), 
	config_hash VARCHAR(64), 
	results INTEGER NOT NULL, 
	errors INTEGER NOT NULL, 
	error_rate FLOAT, 
	pass_rate FLOAT, 
	pass_rate_low FLOAT, 
	pass_rate_high FLOAT, 
	latency_p50_ms FLOAT, 
	latency_p95_ms FLOAT, 
	cost_per_case_usd FLOAT, 
	retrieval_failures INTEGER, 
	unmeasured INTEGER NOT NULL, truncated INTEGER, truncation_rate FLOAT, 
	PRIMARY KEY (run_id, suite, variant)
);
CREATE INDEX ix_run_groups_suite_variant ON run_groups (suite, variant);
CREATE TABLE run_metrics (
	run_id VARCHAR(64) NOT NULL, 
	suite VARCHAR(200) NOT NULL, 
	variant VARCHAR(200) NOT NULL, 
	metric VARCHAR(200) NOT NULL, 
	mean FLOAT, 
	std FLOAT, 
	ci_low FLOAT, 
	ci_high FLOAT, 
	n INTEGER NOT NULL, 
	higher_is_better BOOLEAN NOT NULL, 
	PRIMARY KEY (run_id, suite, variant, metric)
);
CREATE TABLE run_cases (
	run_id VARCHAR(64) NOT NULL, 
	suite VARCHAR(200) NOT NULL, 
	variant VARCHAR(200) NOT NULL, 
	case_id VARCHAR(200) NOT NULL, 
	repeat INTEGER NOT NULL, 
	input_hash VARCHAR(64), 
	model VARCHAR(200), 
	model_version VARCHAR(200), 
	passed BOOLEAN, 
	error TEXT, 
	latency_ms FLOAT, 
	cost_usd FLOAT, 
	input_tokens INTEGER, 
	output_tokens INTEGER, 
	cached BOOLEAN NOT NULL, 
	scores JSON NOT NULL, 
	PRIMARY KEY (run_id, suite, variant, case_id, repeat)
);
CREATE TABLE run_alerts (
	run_id VARCHAR(64) NOT NULL, 
	seq INTEGER NOT NULL, 
	suite VARCHAR(200) NOT NULL, 
	variant VARCHAR(200) NOT NULL, 
	rule VARCHAR(64) NOT NULL, 
	severity VARCHAR(16) NOT NULL, 
	metric VARCHAR(200), 
	value FLOAT, 
	trailing FLOAT, 
	unit VARCHAR(32), 
	p_value FLOAT, 
	message TEXT NOT NULL, 
	PRIMARY KEY (run_id, seq)
);
INSERT INTO evalkit_history_version (version_num) VALUES ('0003');
