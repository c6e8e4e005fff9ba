"""Tests of the bundled brevo brick."""
