"""Two-factor sign-in (docs/two-factor.md): a TOTP authenticator app per user,
ten single-use recovery codes, the code step of sign-in, an account's
requirement of two-factor for its members and Django admin's for staff.

- ``devices``      enrol, confirm, regenerate recovery codes, disable, verify a code
- ``recovery``     the recovery-code device (hashes only)
- ``signin``       the state between the password and the code steps
- ``enforcement``  who may use a session that has not passed the second factor
- ``admin_site``   Django admin's requirement for staff
- ``qr``           the enrolment QR code, as SVG
"""
