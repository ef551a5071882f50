# Double hop, option (c): let WinRM on a Mailbox server accept CredSSP.
# Elevated Windows PowerShell on each Mailbox server; the controller side is
# pywinrm[credssp] (requirements.txt). Undo with: Disable-WSManCredSSP -Role Server
Enable-WSManCredSSP -Role Server -Force
