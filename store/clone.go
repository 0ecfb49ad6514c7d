package store

import "slices"

// Deep copies. Strings are immutable and shared; slices, pointers and what
// they point at are copied. nil stays nil and empty stays empty, so a value
// reads back exactly as it was written.

func cloneAccount(a Account) Account {
	a.JWK = slices.Clone(a.JWK)
	a.Contact = slices.Clone(a.Contact)
	return a
}

func cloneOrder(o Order) Order {
	o.Identifiers = slices.Clone(o.Identifiers)
	o.AuthzIDs = slices.Clone(o.AuthzIDs)
	o.Error = cloneProblemPtr(o.Error)
	o.CSR = slices.Clone(o.CSR)
	return o
}

func cloneAuthz(a Authorization) Authorization {
	if a.Challenges != nil {
		cs := make([]Challenge, len(a.Challenges))
		for i, c := range a.Challenges {
			c.Error = cloneProblemPtr(c.Error)
			cs[i] = c
		}
		a.Challenges = cs
	}
	return a
}

func cloneCert(c Certificate) Certificate {
	c.DER = slices.Clone(c.DER)
	c.Identifiers = slices.Clone(c.Identifiers)
	return c
}

func cloneProblemPtr(p *Problem) *Problem {
	if p == nil {
		return nil
	}
	c := cloneProblem(*p)
	return &c
}

func cloneProblem(p Problem) Problem {
	if p.Identifier != nil {
		id := *p.Identifier
		p.Identifier = &id
	}
	if p.Subproblems != nil {
		subs := make([]Problem, len(p.Subproblems))
		for i, sp := range p.Subproblems {
			subs[i] = cloneProblem(sp)
		}
		p.Subproblems = subs
	}
	return p
}
