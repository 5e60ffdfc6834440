using UnityEngine;

namespace Cadenza.Samples
{
    /// <summary>A door that opens when the player is near.</summary>
    public class Door : MonoBehaviour
    {
        /// <summary>How far the door swings open, in degrees.</summary>
        [SerializeField, Range(0, 180)] private float openAngle = 90f;

        /// <summary>Opens the door.</summary>
        public void Open()
        {
            transform.localRotation = Quaternion.Euler(0f, openAngle, 0f)
        }

        /// <summary>Closes the door.</summary>
        public void Close(
        {
            transform.localRotation = Quaternion.identity;
        }

        /// <summary>Whether the door is open.</summary>
        public bool IsOpen { get; private set; }
    }
}
