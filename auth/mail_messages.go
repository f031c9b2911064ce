package auth

import (
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The mails corkboard sends. Each has a plain-text and an HTML body saying
// the same. The HTML comes from html/template, so user text (a username,
// a full name) is escaped there; in both bodies it is also stripped of
// control characters and capped, so that it reads as one short line.

// PasswordResetMail is the mail with the link that lets the owner of to
// choose a new password; the link works once, within ttl.
func PasswordResetMail(to, username, link string, ttl time.Duration) Message {
	name, within := mailUserText(username), mailDuration(ttl)
	return mailMessage(to, "Reset your corkboard password", link, "reset", mailData{Name: name, Link: link, Within: within, Label: "Choose a new password"},
		"Hello "+name+",\n\n"+
			"Someone asked to reset the password of your corkboard account. To choose a new password, open this link within "+within+":\n\n"+
			link+"\n\n"+
			"The link works once. If you did not ask for this, ignore this mail: your password stays as it is.\n")
}

// PasswordChangedMail tells the owner of to that their password was just
// changed or reset, so that someone who did not do it learns of it.
func PasswordChangedMail(to, username string) Message {
	name := mailUserText(username)
	return mailMessage(to, "Your corkboard password was changed", "", "changed", mailData{Name: name},
		"Hello "+name+",\n\n"+
			"The password of your corkboard account was just changed, and every session signed in with the old one was signed out.\n\n"+
			"If you did not do this, someone else knows your password or can read your mail: choose a new password at once with \"Forgot password\", and secure your mailbox.\n")
}

// VerifyEmailMail is the mail with the link that confirms to as the
// address of the account; the link works once, within ttl.
func VerifyEmailMail(to, username, link string, ttl time.Duration) Message {
	name, within := mailUserText(username), mailDuration(ttl)
	return mailMessage(to, "Confirm your email address for corkboard", link, "verify", mailData{Name: name, Link: link, Within: within, Label: "Confirm my address"},
		"Hello "+name+",\n\n"+
			"Please confirm that this is the address of your corkboard account by opening this link within "+within+":\n\n"+
			link+"\n\n"+
			"If you did not sign up for corkboard, ignore this mail.\n")
}

// ConfirmAdminMail is the mail with which an address listed in
// ADMIN_EMAILS is confirmed: by choosing the account's password through the
// link, which works once, within ttl. (A plain confirmation link is not
// enough for such an address: whoever signed up with it knows the password
// and would become admin as soon as the owner clicked.)
func ConfirmAdminMail(to, username, link string, ttl time.Duration) Message {
	name, within := mailUserText(username), mailDuration(ttl)
	return mailMessage(to, "Confirm your corkboard administrator address", link, "admin", mailData{Name: name, Link: link, Within: within, Label: "Choose the password"},
		"Hello "+name+",\n\n"+
			"This address was used to sign up for corkboard, and it is one of its administrator addresses. To confirm that it is yours, choose the account's password by opening this link within "+within+":\n\n"+
			link+"\n\n"+
			"Choosing the password signs out every session of the account and makes it an administrator. If you did not sign up for corkboard, do this anyway, or tell the operator: someone else used your address.\n")
}

// mailData is what the HTML templates see.
type mailData struct {
	Name, Link, Within string
	Label              string // the link button's text
}

// mailHTML holds the HTML bodies, one template per mail.
var mailHTML = template.Must(template.New("").Parse(`
{{define "top"}}<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em">
<p>Hello {{.Name}},</p>
{{end}}
{{define "link"}}<p><a href="{{.Link}}" style="display: inline-block; padding: 0.5em 1em; background: #0b57d0; color: #ffffff; text-decoration: none; border-radius: 4px">{{.Label}}</a></p>
<p>If the button does not work, copy this address into your browser:<br>{{.Link}}</p>
{{end}}
{{define "bottom"}}</body></html>
{{end}}

{{define "reset"}}{{template "top" .}}<p>Someone asked to reset the password of your corkboard account. To choose a new password, open this link within {{.Within}}:</p>
{{template "link" .}}<p>The link works once. If you did not ask for this, ignore this mail: your password stays as it is.</p>
{{template "bottom"}}{{end}}
{{define "changed"}}{{template "top" .}}<p>The password of your corkboard account was just changed, and every session signed in with the old one was signed out.</p>
<p>If you did not do this, someone else knows your password or can read your mail: choose a new password at once with “Forgot password”, and secure your mailbox.</p>
{{template "bottom"}}{{end}}
{{define "admin"}}{{template "top" .}}<p>This address was used to sign up for corkboard, and it is one of its administrator addresses. To confirm that it is yours, choose the account's password by opening this link within {{.Within}}:</p>
{{template "link" .}}<p>Choosing the password signs out every session of the account and makes it an administrator. If you did not sign up for corkboard, do this anyway, or tell the operator: someone else used your address.</p>
{{template "bottom"}}{{end}}
{{define "verify"}}{{template "top" .}}<p>Please confirm that this is the address of your corkboard account by opening this link within {{.Within}}:</p>
{{template "link" .}}<p>If you did not sign up for corkboard, ignore this mail.</p>
{{template "bottom"}}{{end}}
`))

// mailMessage assembles a Message from its text body and the named HTML
// template.
func mailMessage(to, subject, link, tmpl string, data mailData, text string) Message {
	m := Message{To: to, Subject: subject, Text: text, Link: link}
	var b strings.Builder
	// The templates are fixed, so executing one does not fail; if it ever
	// did, the message would go out as plain text, which says the same.
	if err := mailHTML.ExecuteTemplate(&b, tmpl, data); err == nil {
		m.HTML = b.String()
	}
	return m
}

// mailMaxName caps how much of a user's name a mail repeats.
const mailMaxName = 64

// mailUserText makes user-supplied text fit for a mail's greeting: control
// characters (line breaks among them) become spaces, runs of space become
// one, and it is cut to mailMaxName characters.
func mailUserText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > mailMaxName {
		s = string([]rune(s)[:mailMaxName]) + "…"
	}
	if s == "" {
		s = "there"
	}
	return s
}

// mailDuration says d in words: "15 minutes", "1 hour", "24 hours".
func mailDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	default:
		return d.Round(time.Second).String()
	}
}
