package bolt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
	"github.com/fakeca/fakeca/store/bolt"
)

// crashEnv names the database a re-executed test binary writes to as the
// crash test's child.
const crashEnv = "FAKECA_BOLT_CRASH_CHILD"

const (
	crashWorkers = 8
	crashAcks    = 600 // acknowledged writes to see before the kill
)

// TestCrash runs a child process that writes concurrently, with fsync on,
// and prints a line for every write acknowledged (returned nil). It kills
// the child with SIGKILL mid-way, reopens the database, checks bbolt's
// consistency and that every acknowledged write is there and intact, and
// that IDs continue after the highest acknowledged ones.
//
// SIGKILL loses what the process had not handed to the kernel; it does not
// lose the page cache, so this checks that a write is committed before it
// is acknowledged, not that the fsync reached the disk (bbolt's part).
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs SIGKILL")
	}
	path := tempPath(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	acks, err := readAcks(out, func() { _ = cmd.Process.Kill() })
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not killed (acks: %d)", err, len(acks))
	}
	t.Logf("%d writes acknowledged before the kill", len(acks))
	checkConsistent(t, path)
	checkAcks(t, open(t, path, bolt.Options{}), acks)
}

// readAcks reads the child's complete lines until EOF, calling kill once it
// has crashAcks of them. A last line without a newline was cut by the kill
// and is not an acknowledgement.
func readAcks(r io.Reader, kill func()) ([]string, error) {
	var acks []string
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return acks, nil
		}
		if err != nil {
			return acks, err
		}
		acks = append(acks, strings.TrimSuffix(line, "\n"))
		if len(acks) == crashAcks {
			kill()
		}
	}
}

// checkConsistent runs bbolt's consistency check on the file.
func checkConsistent(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	must(t, err)
	defer db.Close()
	must(t, db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	}))
}

// crashChild writes until it is killed (or, if the parent is gone, until
// stdout breaks), printing one line per acknowledged write.
func crashChild(path string) {
	s, err := bolt.Open(path, bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...) + "\n"
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(3)
		}
	}
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				if err := crashRound(context.Background(), s, w, i, ack); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(4)
				}
			}
		})
	}
	wg.Wait()
	os.Exit(5) // the parent should have killed us long ago
}

// crashRound is one worker's round of writes: an account, an order with an
// authorization, updates of that authorization, a certificate and a
// blocked key. Each acknowledgement names the write and its key.
func crashRound(ctx context.Context, s *bolt.Store, w, i int, ack func(string, ...any)) error {
	name := fmt.Sprintf("w%d-%d", w, i)
	a, err := s.CreateAccount(ctx, crashAccount(name))
	if err != nil {
		return err
	}
	ack("account %d %s", a.ID, name)
	o, err := s.CreateOrder(ctx, crashOrder(a.ID, name), []store.Authorization{crashAuthz(a.ID, name)})
	if err != nil {
		return err
	}
	ack("order %d %d %d %s", o.ID, o.AuthzIDs[0], a.ID, name)
	for n := 1; n <= 3; n++ {
		_, err := s.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *store.Authorization) error {
			a.Status, a.Challenges[0].Validated = acme.StatusValid, t0().Add(time.Duration(n)*time.Second)
			return nil
		})
		if err != nil {
			return err
		}
		ack("authz %d %d", o.AuthzIDs[0], n)
	}
	revoked := i%2 == 0
	if err := s.AddCertificate(ctx, crashCert(name, a.ID, o.ID, revoked)); err != nil {
		return err
	}
	ack("cert %s %d %d %t", name, a.ID, o.ID, revoked)
	if err := s.BlockKey(ctx, name); err != nil {
		return err
	}
	ack("blocked %s", name)
	return nil
}

func crashAccount(name string) store.Account {
	return store.Account{JWK: []byte(`{"x":"` + name + `"}`), KeyID: name, Status: acme.StatusValid,
		Contact: []string{"mailto:" + name + "@example.com"}, CreatedAt: t0()}
}

func crashOrder(account int64, name string) store.Order {
	return store.Order{AccountID: account, Identifiers: []acme.Identifier{dns(name + ".example")},
		Profile: "classic", Created: t0(), Expires: t0().Add(7 * 24 * time.Hour)}
}

func crashAuthz(account int64, name string) store.Authorization {
	return store.Authorization{AccountID: account, Identifier: dns(name + ".example"), Profile: "classic",
		Status: acme.StatusPending, Created: t0(), Expires: t0().Add(7 * 24 * time.Hour),
		Challenges: []store.Challenge{{Type: acme.ChallengeHTTP01, Token: "token-" + name, Status: acme.StatusPending}}}
}

func crashCert(name string, account, order int64, revoked bool) store.Certificate {
	return store.Certificate{Serial: name, AccountID: account, OrderID: order, DER: []byte(name),
		IssuerID: "E5", CRLShard: 1, Identifiers: []acme.Identifier{dns(name + ".example")}, Issued: t0(),
		Expires: t0().Add(90 * 24 * time.Hour), Revoked: revoked}
}

// crashMax tracks the highest ID and authz counter acknowledged.
type crashMax struct {
	account, order, authz int64
	validated             map[int64]int // authz ID → highest acknowledged update
}

// checkAcks checks every acknowledged write against the reopened store.
func checkAcks(t *testing.T, s *bolt.Store, acks []string) {
	m := crashMax{validated: map[int64]int{}}
	for _, line := range acks {
		if err := checkAck(t.Context(), s, strings.Fields(line), &m); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
	ctx := t.Context()
	for id, n := range m.validated {
		a, err := s.GetAuthz(ctx, id)
		if err != nil || a.Status != acme.StatusValid || a.Challenges[0].Validated.Before(t0().Add(time.Duration(n)*time.Second)) {
			t.Errorf("authz %d: %v, status %s, validated %v; want update %d", id, err, a.Status, a.Challenges[0].Validated, n)
		}
	}
	a, err := s.CreateAccount(ctx, store.Account{KeyID: "after"})
	must(t, err)
	o, err := s.CreateOrder(ctx, store.Order{}, []store.Authorization{{}})
	must(t, err)
	if a.ID <= m.account || o.ID <= m.order || o.AuthzIDs[0] <= m.authz {
		t.Errorf("IDs after the crash: account %d, order %d, authz %d; want above %d, %d, %d",
			a.ID, o.ID, o.AuthzIDs[0], m.account, m.order, m.authz)
	}
}

// checkAck checks one acknowledged write, given as the fields of its line.
func checkAck(ctx context.Context, s *bolt.Store, f []string, m *crashMax) error {
	num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	switch f[0] {
	case "account":
		m.account = max(m.account, num(1))
		want := crashAccount(f[2])
		want.ID = num(1)
		got, err := s.GetAccountByKeyID(ctx, f[2])
		return compare(got, err, want)
	case "order":
		m.order, m.authz = max(m.order, num(1)), max(m.authz, num(2))
		want := crashOrder(num(3), f[4])
		want.ID, want.AuthzIDs = num(1), []int64{num(2)}
		got, err := s.GetOrder(ctx, num(1))
		if err := compare(got, err, want); err != nil {
			return err
		}
		a, err := s.GetAuthz(ctx, num(2))
		w := crashAuthz(num(3), f[4])
		if err != nil || a.Identifier != w.Identifier || a.Challenges[0].Token != w.Challenges[0].Token {
			return fmt.Errorf("authz %d: %+v, %v", num(2), a, err)
		}
		return nil
	case "authz":
		m.validated[num(1)] = max(m.validated[num(1)], int(num(2)))
		return nil
	case "cert":
		got, err := s.GetCertificate(ctx, f[1])
		return compare(got, err, crashCert(f[1], num(2), num(3), f[4] == "true"))
	case "blocked":
		got, err := s.KeyBlocked(ctx, f[1])
		return compare(got, err, true)
	}
	return errors.New("unknown acknowledgement")
}

func compare[T any](got T, err error, want T) error {
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	return nil
}
