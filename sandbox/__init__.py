"""Development sandbox: sekmet-fhir runner, synthetic patient loader, development SMART
authorization server and EHR simulator. Nothing in the product depends on this package.

Start everything with `aa-jak sandbox` (see `sandbox.runner`).
"""
