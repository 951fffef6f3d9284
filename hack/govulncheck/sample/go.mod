module example.com/kube-inspector/govulncheck-sample

go 1.21

require (
	github.com/cyphar/filepath-securejoin v0.2.3
	github.com/gorilla/websocket v1.4.0
	golang.org/x/crypto v0.0.0-20210921155107-089bfa567519
	golang.org/x/net v0.7.0
	golang.org/x/sys v0.5.0
	golang.org/x/text v0.7.0
)
