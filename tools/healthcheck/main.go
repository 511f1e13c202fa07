// Command healthcheck is the HEALTHCHECK of the vitalyst-otelcol image, which is built FROM
// scratch and so has no shell or curl. It asks the collector's health_check extension and exits
// 0 when the answer is 200, 1 otherwise (the exit codes Docker's HEALTHCHECK reads).
//
// The address is the one the collector listens on: VITALYST_OTELCOL_HEALTH_ENDPOINT (default
// 0.0.0.0:13133, as collector/config.yaml), with a wildcard host replaced by loopback; an
// argument (a full URL) overrides it.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func target() string {
	if len(os.Args) > 1 {
		return os.Args[1]
	}
	endpoint := os.Getenv("VITALYST_OTELCOL_HEALTH_ENDPOINT")
	if endpoint == "" {
		endpoint = "0.0.0.0:13133"
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "http://" + endpoint + "/"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

func main() {
	url := target()
	client := http.Client{Timeout: 3 * time.Second}
	response, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: %s: %v\n", url, err)
		os.Exit(1)
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "healthcheck: %s answered %s\n", url, response.Status)
		os.Exit(1)
	}
}
