"""What the AML app tells higher layers (the back-office's live feed) without knowing them.

The alerts are written in bulk (services._hits_record), so no post_save fires for them: listeners get
`alerts_opened` once per recording, after it committed, with the new alerts as they committed.
"""

from django.dispatch import Signal

# Sent on commit with alerts=[AmlAlert, ...]: alerts newly opened by monitoring or screening.
alerts_opened = Signal()
