// Command acmeserver runs Let's Encrypt's ACME test server, Pebble, on
// loopback for corkboard's automatic-certificate test, with a DNS server
// that answers 127.0.0.1 for every name, so that Pebble really validates
// the challenges against the program under test on this machine.
//
// Usage:
//
//	acmeserver -http-port N -tls-port N -dir DIR
//
// -http-port and -tls-port are where Pebble sends HTTP-01 and TLS-ALPN-01
// validation requests (on 127.0.0.1); real CAs use 80 and 443. Once
// ready it writes into DIR:
//
//	directory    the ACME directory URL (https://127.0.0.1:PORT/dir)
//	server.pem   the certificate the ACME server itself serves, for the
//	             client's SSL_CERT_FILE
//	roots.pem    the root of the certificates Pebble issues
//
// and runs until SIGINT or SIGTERM. Random nonce rejections and validation
// sleeps are off, so the test is fast and deterministic.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "acmeserver:", err)
		os.Exit(1)
	}
}

func run() error {
	httpPort := flag.Int("http-port", 5002, "port of HTTP-01 validation requests")
	tlsPort := flag.Int("tls-port", 5001, "port of TLS-ALPN-01 validation requests")
	dir := flag.String("dir", "", "directory to write directory, server.pem and roots.pem into")
	flag.Parse()
	if *dir == "" {
		return errors.New("-dir is required")
	}
	os.Setenv("PEBBLE_VA_NOSLEEP", "1")
	os.Setenv("PEBBLE_WFE_NONCEREJECT", "0")

	dnsAddr, stopDNS, err := serveDNS()
	if err != nil {
		return err
	}
	defer stopDNS()

	logger := log.New(os.Stderr, "pebble ", log.LstdFlags)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test profile", ValidityPeriod: 7 * 24 * 3600},
	})
	validator := va.New(logger, *httpPort, *tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	serverCert, serverPEM, err := selfSigned()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:   front.Handler(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}},
		ErrorLog:  logger,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()

	files := map[string][]byte{
		"server.pem": serverPEM,
		"roots.pem":  authority.GetRootCert(0).PEM(),
		// Last: its presence says the others are there.
		"directory": []byte("https://" + ln.Addr().String() + wfe.DirectoryPath),
	}
	for _, name := range []string{"server.pem", "roots.pem", "directory"} {
		if err := writeAtomic(filepath.Join(*dir, name), files[name]); err != nil {
			return err
		}
	}
	logger.Printf("ACME directory at %s, DNS at %s", files["directory"], dnsAddr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// serveDNS answers every A question with 127.0.0.1 and every other
// question with no records, over TCP (Pebble's resolver uses TCP).
func serveDNS() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{Listener: ln, Handler: handler}
	go srv.ActivateAndServe()
	return ln.Addr().String(), func() { srv.Shutdown() }, nil
}

// selfSigned makes the certificate the ACME server presents on 127.0.0.1.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "acme test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
