package main

import (
	"github.com/fakeca/fakeca/faults"
)

// applyPebbleEnv honours Pebble's environment variables
// (PEBBLE_WFE_NONCEREJECT, PEBBLE_VA_NOSLEEP, PEBBLE_VA_SLEEPTIME,
// PEBBLE_VA_ALWAYS_VALID, PEBBLE_AUTHZREUSE) so a CI job written for Pebble
// keeps its behaviour: they become fault rules and settings. A bad value is
// an error naming the variable.
func applyPebbleEnv(c *fileConfig, getenv func(string) string) error {
	p, err := faults.FromPebbleEnv(getenv)
	if err != nil {
		return err
	}
	c.Faults.Rules = append(c.Faults.Rules, p.Rules()...)
	if p.AlwaysValid {
		c.AlwaysValid = true
	}
	if p.AuthzReusePercent != nil {
		c.CA.AuthzReusePercent = *p.AuthzReusePercent
	}
	return nil
}
