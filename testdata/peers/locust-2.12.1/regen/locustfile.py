import locust.stats
from locust import HttpUser, task, constant
# Write the CSV history every second instead of every 10 s.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

class U(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def fast(self):
        self.client.get("/fast", name="GET fast")

    @task(1)
    def slow(self):
        self.client.get("/slow", name="GET slow")

    @task(1)
    def err(self):
        self.client.get("/err", name="GET err")

    @task(1)
    def user(self):
        self.client.get("/users/7")
