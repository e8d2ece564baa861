"""The unit tier: no database, no broker, seconds to run (`make test-unit`)."""
