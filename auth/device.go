package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Device cookies (OWASP's "slow down online guessing attacks with device
// cookies"): a successful login to an account leaves the browser a signed
// token bound to that account. When strangers spread failed logins for a
// name over many addresses, past a ceiling only browsers holding such a
// token may still try; the owner's own devices are never locked out.
//
// A token is "userID.version.nonce.issued.mac": mac is HMAC-SHA256, under a
// key derived from the refresh secret, of the rest. version is the user's
// credential version when it was issued, so a change or reset of the
// password ends every device token issued before it: a thief who once
// logged in with the old password keeps no pass past the ceiling. The token
// holds no secret of the account and grants nothing by itself: it only lets
// its holder try a password, under the per-address limit.

// DeviceLifetime is how long a device token is honoured after its issue.
const DeviceLifetime = 365 * 24 * time.Hour

// deviceKey derives the device-token key from the refresh secret, so that a
// device token can never pass for a refresh token or the other way round.
func deviceKey(refreshSecret []byte) []byte {
	mac := hmac.New(sha256.New, refreshSecret)
	mac.Write([]byte("corkboard device cookie v1"))
	return mac.Sum(nil)
}

// IssueDevice returns a new device token for the user who just proved the
// password of credential version version.
func (s *Service) IssueDevice(userID string, version uint64) string {
	var nonce [12]byte
	rand.Read(nonce[:])
	body := userID + "." + strconv.FormatUint(version, 10) + "." + hex.EncodeToString(nonce[:]) + "." + s.now().UTC().Format("20060102")
	return body + "." + s.deviceMAC(body)
}

// ValidDevice reports whether token is a device token of userID, issued by
// this service within DeviceLifetime under credential version version.
func (s *Service) ValidDevice(token, userID string, version uint64) bool {
	if len(token) > 256 || userID == "" {
		return false
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return false
	}
	body, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.deviceMAC(body))) {
		return false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 4 || parts[0] != userID || parts[1] != strconv.FormatUint(version, 10) {
		return false
	}
	issued, err := time.Parse("20060102", parts[3])
	return err == nil && s.now().Sub(issued) < DeviceLifetime
}

func (s *Service) deviceMAC(body string) string {
	mac := hmac.New(sha256.New, s.deviceKey)
	mac.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
