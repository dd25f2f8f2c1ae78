"""Two fewer indexes written by every round: session and game had their own, which the others make redundant.

games_round_session_nonce_unique and games_round_session_key_unique lead with session_id, and
games_round_game_created with game_id: every lookup by session or game (the session's rounds, the
protection of their foreign keys) uses those. Each round wrote ten indexes; now eight (issue #13).
On SQLite the altered fields rebuild the table: any trigger naming it is lifted and restored around it.
"""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.sqlite_triggers import around_sqlite_rebuild


class Migration(migrations.Migration):
    dependencies = [
        ("games", "0005_round_post_market_rules"),
    ]

    operations = around_sqlite_rebuild(
        "games_round",
        operations=[
            migrations.AlterField(
                model_name="round",
                name="game",
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="games.game"),
            ),
            migrations.AlterField(
                model_name="round",
                name="session",
                field=models.ForeignKey(
                    db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="rounds", to="games.gamesession"
                ),
            ),
        ],
    )
