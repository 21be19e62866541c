-- The budget ledger lives in its own database next to Airflow's metadata.
CREATE DATABASE synthpriv OWNER airflow;
