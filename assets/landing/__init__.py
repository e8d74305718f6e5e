from assets.landing.asset import landing_manifest

ASSETS = [landing_manifest]
CHECKS: list = []
