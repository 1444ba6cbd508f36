// pion_peer.go - one Pion ice (v2) agent behind the ICE test line protocol
// (the same as nice_peer.c and werift_peer.js): prints its RFC 8839
// attribute block on stdout once gathering is done, reads the peer's block
// from stdin, runs the checks.  The controlling side sends "hello over ICE"
// every 100 ms until the echo returns; the controlled side echoes what it
// receives and leaves a second after its last echo, or when its stdin
// closes after an echo.  Host candidates come from the --local address
// only (loopback by default), never from the machine's other interfaces.
//
// Built offline from Debian's golang-github-pion-ice.v2-dev, as ice/lib.sh
// does:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o pion_peer pion_peer.go
//
// Usage:
//
//	pion_peer [--controlling] [--turn H:P --user U --pass P [--turn-tcp]]
//	  [--stun H:P] [--local ADDR] [--relay-only] [--tag T] [--timeout S]
//
// Exit status: 0 echo received or sent; 1 ICE failed; 2 timeout; 3 usage;
// 4 the peer went away.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/logging"
)

const hello = "hello over ICE"

var (
	tag      = "P"
	agent    *ice.Agent
	exitOnce sync.Once
	closing  int32 // set once finish runs: reads then fail for that reason
)

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "%s %s\n", tag, fmt.Sprintf(format, a...))
}

// finish closes the agent (Pion releases its TURN allocations) and exits;
// a close that hangs must not turn the result into a timeout.
func finish(code int) {
	exitOnce.Do(func() {
		atomic.StoreInt32(&closing, 1)
		if agent != nil {
			done := make(chan struct{})
			go func() { _ = agent.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Second):
				logf("close timed out")
			}
		}
		os.Exit(code)
	})
	select {} // another goroutine is exiting
}

func hostPort(s string) (string, int) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return s, 3478
	}
	var n int
	fmt.Sscanf(p, "%d", &n)
	return h, n
}

func main() {
	controlling := flag.Bool("controlling", false, "the controlling side")
	turn := flag.String("turn", "", "TURN server host:port")
	turnTCP := flag.Bool("turn-tcp", false, "TURN over TCP")
	user := flag.String("user", "", "TURN user")
	pass := flag.String("pass", "", "TURN password")
	stunSrv := flag.String("stun", "", "STUN server host:port")
	local := flag.String("local", "127.0.0.1", "local address (loopback)")
	relayOnly := flag.Bool("relay-only", false, "relayed candidates only")
	flag.StringVar(&tag, "tag", "P", "tag of the log lines")
	timeout := flag.Int("timeout", 20, "seconds before giving up")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: pion_peer [--controlling] [--turn H:P --user U --pass P [--turn-tcp]] "+
			"[--stun H:P] [--local ADDR] [--relay-only] [--tag T] [--timeout S]")
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(3)
	}
	go func() {
		time.Sleep(time.Duration(*timeout) * time.Second)
		logf("timeout")
		finish(2)
	}()

	var urls []*ice.URL
	if *turn != "" {
		h, p := hostPort(*turn)
		proto := ice.ProtoTypeUDP
		if *turnTCP {
			proto = ice.ProtoTypeTCP
		}
		urls = append(urls, &ice.URL{Scheme: ice.SchemeTypeTURN, Host: h, Port: p,
			Username: *user, Password: *pass, Proto: proto})
	}
	if *stunSrv != "" {
		h, p := hostPort(*stunSrv)
		urls = append(urls, &ice.URL{Scheme: ice.SchemeTypeSTUN, Host: h, Port: p,
			Proto: ice.ProtoTypeUDP})
	}
	types := []ice.CandidateType{ice.CandidateTypeHost, ice.CandidateTypeServerReflexive,
		ice.CandidateTypeRelay}
	if *relayOnly {
		types = []ice.CandidateType{ice.CandidateTypeRelay}
	}
	// Pion's default logger writes to stdout, where the block goes.
	lf := logging.NewDefaultLoggerFactory()
	lf.Writer = os.Stderr
	localIP := net.ParseIP(*local)
	var err error
	agent, err = ice.NewAgent(&ice.AgentConfig{
		Urls:            urls,
		NetworkTypes:    []ice.NetworkType{ice.NetworkTypeUDP4},
		CandidateTypes:  types,
		IncludeLoopback: true,
		// Only the address asked for: never the machine's other interfaces.
		IPFilter:      func(ip net.IP) bool { return ip.Equal(localIP) },
		LoggerFactory: lf,
	})
	if err != nil {
		logf("cannot make the agent: %v", err)
		os.Exit(3)
	}
	gathered := make(chan struct{})
	if err = agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(gathered)
		}
	}); err != nil {
		logf("OnCandidate: %v", err)
		os.Exit(3)
	}
	if err = agent.OnConnectionStateChange(func(s ice.ConnectionState) {
		logf("state %s", s)
		if s == ice.ConnectionStateFailed {
			logf("Conclusion FAILED")
			go finish(1)
		}
	}); err != nil {
		logf("OnConnectionStateChange: %v", err)
		os.Exit(3)
	}
	if err = agent.GatherCandidates(); err != nil {
		logf("gather failed: %v", err)
		finish(3)
	}
	<-gathered
	logf("gathering done")
	ufrag, pwd, _ := agent.GetLocalUserCredentials()
	cands, _ := agent.GetLocalCandidates()
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-ufrag:%s\na=ice-pwd:%s\n", ufrag, pwd)
	for _, c := range cands {
		fmt.Fprintf(&b, "a=candidate:%s\n", c.Marshal())
	}
	b.WriteString("a=end-of-candidates\n")
	os.Stdout.WriteString(b.String())

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 4096), 65536)
	var rufrag, rpwd string
	ended, n := false, 0
	for !ended && in.Scan() {
		line := strings.TrimSpace(in.Text())
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			rufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			rpwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=candidate:"):
			c, err := ice.UnmarshalCandidate(strings.TrimPrefix(line, "a=candidate:"))
			if err != nil {
				logf("bad remote candidate %q: %v", line, err)
				finish(3)
			}
			if err = agent.AddRemoteCandidate(c); err != nil {
				logf("remote candidate refused: %v", err)
				finish(3)
			}
			n++
		case strings.HasPrefix(line, "a=end-of-candidates"):
			ended = true
		}
	}
	if !ended || rufrag == "" || rpwd == "" {
		if ended {
			logf("bad remote block")
			finish(3)
		}
		logf("Conclusion ABORTED (peer went away)")
		finish(4)
	}
	logf("remote candidates: %d", n)

	var mu sync.Mutex
	echoed := false
	// After the block, the end of stdin means the relay saw the peer leave.
	go func() {
		for in.Scan() {
		}
		mu.Lock()
		e := echoed
		mu.Unlock()
		if !*controlling && e {
			finish(0)
		}
		logf("Conclusion ABORTED (peer went away)")
		finish(4)
	}()

	var conn *ice.Conn
	if *controlling {
		conn, err = agent.Dial(context.Background(), rufrag, rpwd)
	} else {
		conn, err = agent.Accept(context.Background(), rufrag, rpwd)
	}
	if err != nil {
		logf("Conclusion FAILED %v", err)
		finish(1)
	}
	if p, err := agent.GetSelectedCandidatePair(); err == nil && p != nil {
		logf("selected %s %s:%d -> %s %s:%d", p.Local.Type(), p.Local.Address(), p.Local.Port(),
			p.Remote.Type(), p.Remote.Address(), p.Remote.Port())
	}
	if *controlling {
		go func() {
			for {
				_, _ = conn.Write([]byte(hello))
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	buf := make([]byte, 1500)
	var linger *time.Timer
	for {
		k, err := conn.Read(buf)
		if err != nil {
			if atomic.LoadInt32(&closing) == 0 {
				logf("Conclusion FAILED read: %v", err)
				finish(1)
			}
			select {}
		}
		logf("received: %s", buf[:k])
		if *controlling {
			if string(buf[:k]) == hello {
				logf("Conclusion SUCCESS")
				finish(0)
			}
			continue
		}
		if _, err = conn.Write(buf[:k]); err != nil {
			logf("echo not sent: %v", err)
			continue
		}
		mu.Lock()
		if !echoed {
			logf("echoed")
		}
		echoed = true
		mu.Unlock()
		if linger != nil {
			linger.Stop()
		}
		linger = time.AfterFunc(time.Second, func() { finish(0) })
	}
}
