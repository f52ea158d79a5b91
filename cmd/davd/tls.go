package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// certHolder keeps the server certificate and swaps it on reload, so that
// a renewed certificate (certbot, acme.sh) is served without a restart and
// without dropping a connection: tls.Config.GetCertificate asks it for the
// current one at every handshake.
type certHolder struct {
	certFile, keyFile string

	mu   sync.RWMutex
	cert *tls.Certificate
}

// loadCert reads the key pair once, so that a bad file stops davd before
// it listens.
func loadCert(certFile, keyFile string) (*certHolder, error) {
	c := &certHolder{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the key pair again. On failure the current certificate
// stays in use: a half-written renewal must not take the server down.
func (c *certHolder) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	c.mu.Lock()
	c.cert = &cert
	c.mu.Unlock()
	return nil
}

// getCertificate is the tls.Config.GetCertificate callback.
func (c *certHolder) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// tlsConfig is TLS 1.2 or newer with the certificate from c. net/http adds
// "h2" to NextProtos in ServeTLS, so HTTP/2 is offered.
func (c *certHolder) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.getCertificate,
	}
}

// watchReload reloads the certificate whenever reload delivers, until ctx
// ends.
func (c *certHolder) watchReload(ctx context.Context, reload <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			if err := c.reload(); err != nil {
				log.Error("certificate reload failed; still serving the previous one", "err", err)
				continue
			}
			log.Info("certificate reloaded", "cert", c.certFile)
		}
	}
}
