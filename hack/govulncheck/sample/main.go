// A program that links packages of module versions with known vulnerabilities, some of them
// limited to one platform, so that the scanner and govulncheck can be compared on it. It is
// built, never run.
package main

import (
	"fmt"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/html"
	"golang.org/x/sys/cpu"
	"golang.org/x/text/language"
)

func main() {
	p, _ := securejoin.SecureJoin("/srv", "../etc")
	m := &autocert.Manager{Prompt: autocert.AcceptTOS}
	t, _ := language.Parse("en-US")
	fmt.Println(p, m != nil, t, websocket.TextMessage, html.EscapeString("<"), cpu.X86.HasAVX2)
}
