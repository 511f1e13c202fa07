module github.com/vitalyst/vitalyst-otel/tools/healthcheck

go 1.26
