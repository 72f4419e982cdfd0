# Egress for the video service. video.twilio.com was the old REST host (comment: no finding).
variable "twilio_api_key_sid" {}
variable "opentok_api_secret" { sensitive = true }

resource "aws_security_group_rule" "twilio_media" {
  type        = "egress"
  protocol    = "udp"
  from_port   = 10000
  to_port     = 60000
  cidr_blocks = ["168.86.128.0/18"]
}

resource "aws_security_group_rule" "internal" {
  type        = "ingress"
  cidr_blocks = ["10.0.0.0/8"]
}

locals {
  turn_servers = ["turn:global.turn.twilio.com:3478?transport=udp"]
}
