"""Imports: patients (CSV, FHIR Patient) and measure history (FHIR QuestionnaireResponse, Observation)."""
